// What an operator sees of a running container, through the real engine: gpumem ps (table and
// JSON), gpumem inspect (with each process's slot), the exporter install.sh started, scraped over loopback and read with a
// Prometheus text parser, and gpumem top live in a real terminal (tmux) while gpumem update
// changes the budget, which the container's next allocation then meets.
//
// The host: three fake GPUs of 1, 2 and 4 GiB (the agent, the exporter and the CLI see them
// through the fake NVML); the container is given host GPU 1 with --gpus, as on a GPU host.
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { get } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import parsePrometheus from 'parse-prometheus-text-format'
import {
  EXPORTER_LISTEN, IMAGE, MiB, ROOT, docker, engineReady, env, inCI, installForFile, parseAlloc, run, show, sleep, start,
} from './lib/docker.js'

const HOST = { FAKE_NVML_DEVICE_MEMS: '1g,2g,4g' }
const hostEnv = { ...HOST, LD_LIBRARY_PATH: join(ROOT, 'native/build/fake') }
const NAME = `gpumem-e2e-observed-${process.pid}`
const haveTmux = spawnSync('tmux', ['-V']).status === 0

interface Family { name: string; type: string; metrics: { value: string; labels?: Record<string, string> }[] }
const parse = parsePrometheus as unknown as (text: string) => Family[]

const scrape = (): Promise<Map<string, Family>> => new Promise((ok, fail) => {
  get(`http://${EXPORTER_LISTEN}/metrics`, res => {
    let body = ''
    res.setEncoding('utf8').on('data', (d: string) => (body += d)).on('end', () => {
      if (res.statusCode !== 200) fail(new Error(`the exporter answered ${res.statusCode}: ${body}`))
      else ok(new Map(parse(body).map(f => [f.name, f])))
    })
  }).on('error', fail)
})

/** the one series of a family whose labels include these, or undefined */
const series = (m: Map<string, Family>, name: string, labels: Record<string, string>): number | undefined => {
  const s = m.get(name)?.metrics.filter(x => Object.entries(labels).every(([k, v]) => x.labels?.[k] === v)) ?? []
  return s.length === 1 ? Number(s[0]!.value) : undefined
}

if (await engineReady(t)) {
  let id = ''
  const gpumem = installForFile(t, async () => { await docker('rm', '-f', NAME) }, hostEnv)
  const cli = (...args: string[]) => run(join(gpumem().prefix, 'bin', 'gpumem'), args, { env: hostEnv })
  const exec = (...args: string[]) => docker('exec', '-e', 'CUDA_VISIBLE_DEVICES=1', NAME, ...args)
  let filled = 0
  let held: ReturnType<typeof start> | undefined
  t.teardown(() => held?.kill('SIGKILL'))

  t.before(async () => {
    const r = await docker('run', '-d', '--name', NAME, '--runtime', 'gpumem', '--gpus', 'device=1',
      '-e', `FAKE_NVML_DEVICE_MEMS=${HOST.FAKE_NVML_DEVICE_MEMS}`, '--annotation', 'gpumem.io/limit=256m', IMAGE, 'sleep', '300')
    if (r.code !== 0) throw new Error(`could not start the container: ${show(r)}`)
    id = r.stdout.trim()
    // One process fills the budget until refused and exits; a second then holds 100 MiB.
    const fill = await exec('alloc-until-oom', '--block', '64m')
    filled = parseAlloc(fill.stdout, show(fill)).allocated
    held = start('docker', ['exec', '-e', 'CUDA_VISIBLE_DEVICES=1', NAME, 'alloc-until-oom', '--block', '4m', '--max', '100m', '--hold', '300'], { timeoutMs: 400_000 })
    const line = await held.firstLine
    if (parseAlloc(line).allocated !== 100 * MiB) throw new Error(`the holder did not get 100 MiB: ${line}`)
  })

  t.test('gpumem ps --format json: the container by its Docker name, its GPU by UUID, budget, use, peak and refusals', async t => {
    t.ok(filled > 128 * MiB && filled <= 256 * MiB, `the fill got most of the 256 MiB budget, and no more (${filled / MiB} MiB)`)
    const r = await cli('ps', '--format', 'json')
    t.equal(r.code, 0, 'gpumem ps succeeds', { output: show(r) })
    const rows = r.stdout.trim().split('\n').map(l => JSON.parse(l)).filter(j => j.container === id)
    t.equal(rows.length, 1, 'one row: the container has one GPU')
    t.match(rows[0], { name: NAME, gpu: '0', uuid: /^GPU-[0-9a-f-]{36}$/, limit: 256 * MiB, used: 100 * MiB, refused: 1, processes: 1, tampering: false })
    t.ok(rows[0].peak >= filled && rows[0].peak <= 256 * MiB, `its peak is at least what the fill held, within the budget (${rows[0].peak / MiB} MiB)`)
  })

  t.test('gpumem ps: a docker ps-like table within 80 columns naming the container', async t => {
    const r = await cli('ps')
    t.equal(r.code, 0)
    const lines = r.stdout.trimEnd().split('\n')
    // At 80 columns the widest (a long name) is cut, and DRIVER goes (after STATUS and PIDS)
    t.match(lines[0], /^CONTAINER ID\s+NAME\s+GPU\s+UUID\s+BUDGET\s+USED\s+(DRIVER\s+)?PEAK\s+REFUSED/)
    const row = lines.find(l => l.startsWith(id.slice(0, 12))) ?? ''
    t.match(row, /^\S{12}\s+gpumem-e2e-\S*\s+0\s+GPU-\S+\s+256MiB\s+100MiB\s+(0B\s+)?\d+MiB\s+1$/, `the row: ${row}`)
    t.ok(lines.every(l => l.length <= 80), 'nothing past 80 columns')
  })

  t.test('gpumem inspect NAME: the decision with its GPU\'s UUID, budget and where it came from, as JSON', async t => {
    const r = await cli('inspect', NAME)
    t.equal(r.code, 0, 'gpumem inspect succeeds', { output: show(r) })
    const [c] = JSON.parse(r.stdout)
    const uuid = JSON.parse((await cli('ps', '--format', 'json')).stdout.trim().split('\n').find(l => l.includes(id))!).uuid
    t.match(c, {
      id, name: NAME, gone: null,
      decision: { gpus: [{ index: 0, uuid, budget: 256 * MiB, from: 'annotation gpumem.io/limit' }] },
      region: { usedPerGpu: { 0: 100 * MiB }, processes: 1, refused: { 0: 1 } },
      processes: { slots: 1, slotDetail: [{ usedPerGpu: { 0: 100 * MiB } }] },
      tampering: false,
    })
    t.ok(Number.isInteger(c.processes.slotDetail[0].pid) && c.processes.slotDetail[0].pid > 0, 'the holder\'s slot, by its pid inside the container')
    const none = await cli('inspect', 'no-such-container')
    t.equal(none.code, 1, 'an unknown container: exit status 1')
    t.match(none.stderr, /^gpumem: .*no-such-container.*\n$/, 'in one line')
  })

  t.test('the exporter install.sh started serves the container\'s series over loopback', async t => {
    const m = await scrape()
    const labels = { container: id, name: NAME, gpu: '0' }
    t.equal(series(m, 'gpumem_budget_bytes', labels), 256 * MiB, 'gpumem_budget_bytes')
    t.equal(series(m, 'gpumem_used_bytes', labels), 100 * MiB, 'gpumem_used_bytes')
    t.equal(series(m, 'gpumem_driver_overhead_bytes', labels), 0, 'gpumem_driver_overhead_bytes (the fake driver takes none)')
    t.ok((series(m, 'gpumem_peak_bytes', labels) ?? 0) >= filled, 'gpumem_peak_bytes')
    t.equal(series(m, 'gpumem_refused_allocations_total', labels), 1, 'gpumem_refused_allocations_total')
    t.equal(m.get('gpumem_refused_allocations_total')?.type, 'COUNTER')
    t.ok((series(m, 'gpumem_containers', {}) ?? 0) >= 1, 'gpumem_containers counts it')
    t.match(m.get('gpumem_budget_bytes')?.metrics.find(s => s.labels?.container === id)?.labels, { gpu_uuid: /^GPU-/ }, 'labelled with its GPU\'s UUID')
  })

  t.test('gpumem top in an 80-column terminal follows gpumem update live, and the container\'s next allocation meets the new budget',
    { skip: haveTmux || inCI ? false : 'tmux is not installed' }, async t => {
      const dir = mkdtempSync(join(tmpdir(), 'gpumem-e2e-top-'))
      const server = `gpumem-e2e-top-${process.pid}`
      const tmux = (...args: string[]) => spawnSync('tmux', ['-L', server, ...args], { encoding: 'utf8' })
      t.teardown(() => { tmux('kill-server'); rmSync(dir, { recursive: true, force: true }) })
      const script = join(dir, 'top.sh')
      const vars = { PATH: env.PATH ?? '', DOCKER_HOST: env.DOCKER_HOST ?? '', ...hostEnv }
      writeFileSync(script, [
        ...Object.entries(vars).map(([k, v]) => `export ${k}='${v}'`),
        `'${join(gpumem().prefix, 'bin', 'gpumem')}' top --interval 0.5`,
        'echo "top exited with $?"',
        'exec sleep 120',
      ].join('\n') + '\n')
      t.equal(tmux('new-session', '-d', '-s', 'top', '-x', '80', '-y', '24', `sh ${script}`).status, 0, 'tmux started')
      const screen = () => tmux('capture-pane', '-p', '-t', 'top').stdout
      const until = async (what: RegExp, ms = 15_000) => {
        for (const end = Date.now() + ms; Date.now() < end; await sleep(100)) if (what.test(screen())) return screen()
        return screen()
      }
      const row = new RegExp(`^${id.slice(0, 12)}\\s.*\\s256MiB\\s+100MiB`, 'm')
      const first = await until(row)
      t.match(first, row, 'the container\'s row: 256 MiB budget, 100 MiB used')
      t.ok(first.split('\n').every(l => l.length <= 80), 'nothing past 80 columns')

      const uuid = JSON.parse((await cli('ps', '--format', 'json')).stdout.trim().split('\n').find(l => l.includes(id))!).uuid
      const up = await cli('update', NAME, '--gpu-limit', `${uuid}=160m`)
      t.equal(up.code, 0, 'gpumem update by the GPU\'s UUID succeeds', { output: show(up) })
      const changed = new RegExp(`^${id.slice(0, 12)}\\s.*\\s160MiB\\s+100MiB`, 'm')
      t.match(await until(changed), changed, 'top shows the new budget at its next refresh')
      const next = await exec('alloc-until-oom', '--block', '4m')
      const a = parseAlloc(next.stdout, show(next))
      t.equal(a.total, 160 * MiB, 'the container\'s next program sees a 160 MiB GPU')
      t.ok(a.allocated > 52 * MiB && a.allocated <= 60 * MiB, `and gets what is left beside the 100 MiB held: ${a.allocated / MiB} MiB`)

      tmux('send-keys', '-t', 'top', 'q')
      t.match(await until(/top exited with/), /^top exited with 0$/m, 'q quits with exit status 0')
    })

  t.test('once the container is removed, ps, inspect and the exporter no longer show it', async t => {
    held?.kill('SIGKILL')
    t.equal((await docker('rm', '-f', NAME)).code, 0)
    const r = await cli('ps', '--format', 'json')
    t.notOk(r.stdout.includes(id), 'gpumem ps no longer lists it')
    const m = await scrape()
    t.notOk(m.get('gpumem_budget_bytes')?.metrics.some(s => s.labels?.container === id), 'nor does the exporter')
  })
}
