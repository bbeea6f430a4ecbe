// The budget engine through the real engine: GPUs found in every form Docker writes them (--gpus,
// CDI devices), budgets keyed by UUID, the host policy (defaultLimit, maxLimit, envLimit, a broken
// file, changes without a restart, the log), admission against the ledger (40 starts against a GPU
// that fits 25), leftover entries reconciled, and gpumem update through admission.
//
// The host: three fake GPUs of 1, 2 and 4 GiB whose device minors are 2, 0, 1 (the agent sees them
// through the fake NVML). A container's fake driver shows it the GPUs it was given:
// CUDA_VISIBLE_DEVICES names them by host index, as the real driver only sees the nodes it got.
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  GPUMEM_RUN, IMAGE, MiB, ROOT, cidfile, docker, engineReady, installForFile, parseAlloc, run, show, sleep, stateDirs,
} from './lib/docker.js'
import { RUN_DIR } from './lib/paths.js'

const HOST = { FAKE_NVML_DEVICE_MEMS: '1g,2g,4g', FAKE_NVML_MINORS: '2,0,1' }
const POLICY = join(RUN_DIR, 'gpumem-policy.json')
const DECISIONS = join(RUN_DIR, 'gpumem-decisions.log')
const CDI_SPEC = join(RUN_DIR, 'cdi', 'gpumem-e2e-nvidia.json')
const INVENTORY = join(GPUMEM_RUN, 'inventory.json')
const hostEnv = { ...HOST, LD_LIBRARY_PATH: join(ROOT, 'native/build/fake'), GPUMEM_POLICY: POLICY }

const setPolicy = (p: object | string | null): void => {
  if (p === null) rmSync(POLICY, { force: true })
  else writeFileSync(POLICY, typeof p === 'string' ? p : JSON.stringify({ logFile: DECISIONS, ...p }))
}

/** the host's GPUs as the agent's fake NVML lists them */
const hostGpus = (): { uuid: string; totalBytes: number; minor: number }[] => {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e',
    `import { gpuInventory } from ${JSON.stringify(join(ROOT, 'dist/lib/ffi/native.js'))}; console.log(JSON.stringify(gpuInventory().gpus))`],
  { env: { ...process.env, ...hostEnv }, encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`cannot list the fake host's GPUs: ${r.stderr}`)
  return JSON.parse(r.stdout)
}

/** docker run --rm --runtime gpumem with the fake driver showing `visible` (host indexes) */
const gpuRun = (visible: string, opts: string[], cmd: string[]) =>
  docker('run', '--rm', '--runtime', 'gpumem', '-e', `FAKE_NVML_DEVICE_MEMS=${HOST.FAKE_NVML_DEVICE_MEMS}`,
    '-e', `CUDA_VISIBLE_DEVICES=${visible}`, ...opts, IMAGE, ...cmd)

const fill = ['alloc-until-oom', '--block', '4m']

if (await engineReady(t)) {
  const forget = () => { rmSync(INVENTORY, { force: true }); rmSync(DECISIONS, { force: true }) }
  forget()
  const running: string[] = []
  const gpumem = installForFile(t, async () => {
    if (running.length) await docker('rm', '-f', ...running)
    setPolicy(null)
    rmSync(CDI_SPEC, { force: true })
    forget() // the next files' agents have no NVML: they must not read this one's GPUs
  }, hostEnv)
  const gpus = hostGpus()
  const uuid = (i: number) => gpus[i]!.uuid

  t.test('--gpus device=1 without any gpumem key gets the policy default, and a change applies to the next start', async t => {
    setPolicy({ defaultLimit: '256m' })
    const r = await gpuRun('1', ['--gpus', 'device=1'], fill)
    t.equal(r.code, 0, show(r))
    const a = parseAlloc(r.stdout, show(r))
    t.equal(a.total, 256 * MiB, 'the container sees its 256 MiB default')
    t.ok(a.allocated <= 256 * MiB && a.allocated >= 252 * MiB, `and gets no more (${a.allocated / MiB} MiB)`)
    setPolicy({ defaultLimit: '12.5%' })
    const r2 = await gpuRun('1', ['--gpus', 'device=1'], fill)
    t.equal(parseAlloc(r2.stdout, show(r2)).total, 256 * MiB, '12.5% of the 2 GiB GPU 1')
    setPolicy({ defaultLimit: '128m' })
    const r3 = await gpuRun('1', ['--gpus', 'device=1'], fill)
    t.equal(parseAlloc(r3.stdout, show(r3)).total, 128 * MiB, 'the new default, without restarting anything')
  })

  t.test('without a policy file a GPU container is not limited, and one without GPUs never is', async t => {
    setPolicy(null)
    const r = await gpuRun('1', ['--gpus', 'device=1'], fill)
    t.equal(parseAlloc(r.stdout, show(r)).total, 2048 * MiB, 'the whole 2 GiB GPU')
    setPolicy({ defaultLimit: '128m' })
    const plain = await gpuRun('1', [], fill)
    t.equal(parseAlloc(plain.stdout, show(plain)).total, 2048 * MiB, 'no --gpus: not a GPU container, no default')
    const image = await gpuRun('1', ['-e', 'NVIDIA_VISIBLE_DEVICES=all'], fill)
    t.equal(parseAlloc(image.stdout, show(image)).total, 2048 * MiB, "an image's own NVIDIA_VISIBLE_DEVICES=all with runc below gives no GPU: no default")
  })

  t.test('a broken policy refuses GPU containers with one line naming the file and field, and leaves the others alone', async t => {
    setPolicy('{"defaultLimit": "8g", "overcommit": "maybe"}')
    const r = await gpuRun('0', ['--gpus', 'all'], ['true'])
    t.equal(r.code, 125, show(r))
    t.match(r.stderr, `gpumem: policy ${POLICY}: overcommit is "maybe"; use "deny" or "allow"`)
    const plain = await gpuRun('0', [], ['true'])
    t.equal(plain.code, 0, `a container without GPUs starts: ${show(plain)}`)
    setPolicy('{"defaultLimit": "8g",')
    const j = await gpuRun('0', ['--gpus', 'all'], ['true'])
    t.match(j.stderr, `gpumem: policy ${POLICY} is not valid JSON`)
  })

  t.test('CDI devices are GPUs by their minor number: nvidia.com/gpu=0 is host GPU 0 (/dev/nvidia2), 50% of its 1 GiB', async t => {
    setPolicy({})
    const node = (i: number) => ({ path: `/dev/nvidia${gpus[i]!.minor}`, type: 'c', major: 195, minor: gpus[i]!.minor })
    writeFileSync(CDI_SPEC, JSON.stringify({
      cdiVersion: '0.6.0', kind: 'nvidia.com/gpu',
      devices: [
        { name: '0', containerEdits: { deviceNodes: [node(0)] } },
        { name: '2', containerEdits: { deviceNodes: [node(2)] } },
        { name: uuid(2), containerEdits: { deviceNodes: [node(2)] } },
        { name: 'all', containerEdits: { deviceNodes: [node(0), node(1), node(2)] } },
      ],
      containerEdits: { env: ['NVIDIA_VISIBLE_DEVICES=void'], deviceNodes: [{ path: '/dev/nvidiactl', type: 'c', major: 195, minor: 255 }] },
    }))
    await sleep(500) // dockerd's CDI cache watches the directory
    const r = await gpuRun('0', ['--device', 'nvidia.com/gpu=0', '--annotation', 'gpumem.io/limit=50%'], fill)
    t.equal(r.code, 0, show(r))
    t.equal(parseAlloc(r.stdout, show(r)).total, 512 * MiB, 'half of host GPU 0 (1 GiB), found from /dev/nvidia2')
    const d = await gpuRun('2', ['--device', `nvidia.com/gpu=${uuid(2)}`, '--annotation', 'gpumem.io/limit=25%'], fill)
    t.equal(parseAlloc(d.stdout, show(d)).total, 1024 * MiB, 'by UUID: a quarter of the 4 GiB GPU 2 (/dev/nvidia1)')
    setPolicy({ defaultLimit: '300m' })
    const def = await gpuRun('2', ['--device', 'nvidia.com/gpu=2'], fill)
    t.equal(parseAlloc(def.stdout, show(def)).total, 300 * MiB, 'a CDI GPU container without a key gets the default')
    const all = await docker('run', '-d', '--runtime', 'gpumem', '--device', 'nvidia.com/gpu=all', '--annotation', 'gpumem.io/limit.1=200m', IMAGE, 'sleep', '60')
    t.equal(all.code, 0, show(all))
    const id = all.stdout.trim()
    running.push(id)
    const record = JSON.parse(readFileSync(join(GPUMEM_RUN, id, 'host.json'), 'utf8'))
    t.same(record.gpus, [{ uuid: uuid(0), bytes: String(300 * MiB) }, { uuid: uuid(1), bytes: String(200 * MiB) }, { uuid: uuid(2), bytes: String(300 * MiB) }],
      'nvidia.com/gpu=all: all three GPUs in the host order, GPU 1 its own 200 MiB, the others the default')
    await docker('rm', '-f', ...running.splice(running.indexOf(id), 1)) // its budgets would count in the tests below
  })

  t.test('gpumem.io/limit.<UUID> follows its GPU whatever order CUDA_VISIBLE_DEVICES gives the devices inside', async t => {
    setPolicy({})
    const opts = ['--gpus', 'all', '--annotation', 'gpumem.io/limit=100m', '--annotation', `gpumem.io/limit.${uuid(2)}=300m`]
    for (const [visible, device, want] of [['0,1,2', '2', 300], ['2,1,0', '0', 300], ['2,1,0', '2', 100], ['1,0,2', '0', 100]] as const) {
      const r = await gpuRun(visible, opts, [...fill, '--device', device])
      t.equal(r.code, 0, show(r))
      t.equal(parseAlloc(r.stdout, show(r)).total, want * MiB, `CUDA_VISIBLE_DEVICES=${visible}, device ${device}: ${want} MiB`)
    }
    const bad = await gpuRun('0', ['--gpus', 'device=0', '--annotation', `gpumem.io/limit.${uuid(2)}=300m`], ['true'])
    t.equal(bad.code, 125, show(bad))
    t.match(bad.stderr, `gpumem: annotation gpumem.io/limit.${uuid(2)} is for a GPU this container does not have (its GPUs are ${uuid(0)})`)
  })

  t.test('maxLimit refuses a larger request naming both; envLimit "lower" lets a variable only lower the default', async t => {
    setPolicy({ maxLimit: '512m', defaultLimit: '256m', envLimit: 'lower' })
    const big = await gpuRun('0', ['--gpus', 'device=0', '--annotation', 'gpumem.io/limit=1g'], ['true'])
    t.equal(big.code, 125, show(big))
    t.match(big.stderr, `gpumem: annotation gpumem.io/limit asks for 1GiB on GPU 0 (${uuid(0)}), more than this host's maxLimit 512MiB (${POLICY}); ask for at most 512MiB`)
    const up = await gpuRun('0', ['--gpus', 'device=0', '-e', 'GPUMEM_LIMIT=400m'], ['true'])
    t.equal(up.code, 125, show(up))
    t.match(up.stderr, /environment variable GPUMEM_LIMIT asks for 400MiB .* more than the 256MiB of policy defaultLimit; this host's policy \(envLimit "lower"\)/)
    const down = await gpuRun('0', ['--gpus', 'device=0', '-e', 'GPUMEM_LIMIT=64m'], fill)
    t.equal(parseAlloc(down.stdout, show(down)).total, 64 * MiB, 'lowering is fine')
  })

  t.test('every decision is one JSON line in the policy\'s logFile: GPUs by UUID, budgets, where each came from, outcome', async t => {
    setPolicy({ defaultLimit: '128m' })
    rmSync(DECISIONS, { force: true })
    await gpuRun('1', ['--gpus', 'device=1'], ['true'])
    await gpuRun('1', ['--gpus', 'device=1', '--annotation', 'gpumem.io/limit=99parsecs'], ['true'])
    const lines = readFileSync(DECISIONS, 'utf8').trim().split('\n').map(l => JSON.parse(l))
    const limited = lines.find(l => l.outcome === 'limited')
    t.match(limited, { container: /^[0-9a-f]{64}$/, gpus: [{ index: 0, uuid: uuid(1), budget: 128 * MiB, from: 'policy defaultLimit' }], msg: 'budget set' })
    t.match(lines.find(l => l.outcome === 'refused'), { container: /^[0-9a-f]{64}$/, msg: /gpumem: annotation gpumem\.io\/limit="99parsecs" is not a valid limit/ })
  })

  t.test('40 containers started at once against a GPU that fits 25 budgets: exactly 25 run, 15 are told why', async t => {
    // GPU 0 has 1024 MiB; 24 MiB kept back leaves 1000 MiB: 25 budgets of 40 MiB.
    setPolicy({ reservePerGpu: '24m' })
    const results = await Promise.all(Array.from({ length: 40 }, () => {
      const cid = cidfile()
      return docker('run', '-d', '--cidfile', cid.path, '--runtime', 'gpumem', '--gpus', 'device=0', '--annotation', 'gpumem.io/limit=40m', IMAGE, 'sleep', '300')
        .then(r => { const id = cid.read(); cid.cleanup(); if (id) running.push(id); return r })
    }))
    const ok = results.filter(r => r.code === 0)
    const refused = results.filter(r => r.code !== 0)
    t.equal(ok.length, 25, 'exactly 25 started')
    t.equal(refused.length, 15)
    for (const r of refused) t.match(r.stderr, new RegExp(`gpumem: GPU 0 \\(${uuid(0)}\\) has (0B|[0-9.]+MiB) free for budgets and this container asks for 40MiB`), 'each refusal says why, in one line')
    const ps = await docker('ps', '-q', '--no-trunc', '--filter', `ancestor=${IMAGE}`)
    t.equal(ps.stdout.trim().split('\n').filter(Boolean).length, 25, 'docker ps shows 25 running')
    await docker('rm', '-f', ...running.splice(0))
    await sleep(300)
    const again = await gpuRun('0', ['--gpus', 'device=0', '--annotation', 'gpumem.io/limit=1000m'], ['true'])
    t.equal(again.code, 0, `once they are gone their budgets are free again: ${show(again)}`)
  })

  t.test('a ledger entry of a container that no longer exists is reconciled away at the next decision', async t => {
    setPolicy({})
    const probe = await docker('run', '-d', '--runtime', 'gpumem', '--gpus', 'device=0', '--annotation', 'gpumem.io/limit=64m', IMAGE, 'sleep', '60')
    const live = probe.stdout.trim()
    running.push(live)
    const record = JSON.parse(readFileSync(join(GPUMEM_RUN, live, 'host.json'), 'utf8'))
    // A runc that never ran its cleanup: state for an id the lower runtime does not know, 900 MiB of GPU 0.
    const ghost = 'f'.repeat(64)
    const dir = join(GPUMEM_RUN, ghost)
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    writeFileSync(join(dir, 'host.json'), JSON.stringify({ ...record, gpus: [{ uuid: uuid(0), bytes: String(900 * MiB) }] }))
    const old = new Date(Date.now() - 60_000)
    utimesSync(join(dir, 'host.json'), old, old)
    const r = await gpuRun('0', ['--gpus', 'device=0', '--annotation', 'gpumem.io/limit=512m'], ['true'])
    t.equal(r.code, 0, `admitted: the ghost's 900 MiB no longer counts (${show(r)})`)
    t.notOk(existsSync(dir), 'and its state is gone')
    t.ok(stateDirs().includes(live), 'the live container keeps its entry')
  })

  t.test('gpumem update goes through the same admission', async t => {
    setPolicy({ reservePerGpu: '24m' })
    const ids: string[] = []
    for (let i = 0; i < 2; i++) {
      const r = await docker('run', '-d', '--runtime', 'gpumem', '--gpus', 'device=0', '--annotation', 'gpumem.io/limit=400m', IMAGE, 'sleep', '300')
      t.equal(r.code, 0, show(r))
      ids.push(r.stdout.trim())
      running.push(r.stdout.trim())
    }
    await docker('rm', '-f', ...running.filter(id => !ids.includes(id)))
    const cli = join(gpumem().prefix, 'bin', 'gpumem')
    const env = { GPUMEM_POLICY: POLICY }
    const no = await run(cli, ['update', ids[0]!, '--limit', '700m'], { env })
    t.not(no.code, 0, show(no))
    t.match(no.stderr, `gpumem: ${ids[0]!.slice(0, 12)}: GPU 0 (${uuid(0)}) has 600MiB free for budgets and the update asks for 700MiB`)
    const yes = await run(cli, ['update', ids[0]!, '--limit', '600m'], { env })
    t.equal(yes.code, 0, show(yes))
    const after = JSON.parse(readFileSync(join(GPUMEM_RUN, ids[0]!, 'host.json'), 'utf8'))
    t.same(after.gpus, [{ uuid: uuid(0), bytes: String(600 * MiB) }], 'the ledger holds the new budget')
    const full = await gpuRun('0', ['--gpus', 'device=0', '--annotation', 'gpumem.io/limit=1m'], ['true'])
    t.match(full.stderr, /has 0B free for budgets/, 'and counts it for the next start')
  })
}
