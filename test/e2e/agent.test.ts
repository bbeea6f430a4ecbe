// The create path through the real engine: one decision by the agent at create, no hooks, state
// gone at delete, concurrent starts exact, and a missing or killed agent still limits (in-process).
import t from 'tap'
import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  GPUMEM_RUN, MiB, docker, dockerRun, engineReady, installForFile, parseAlloc, runLimitedContainer, show, sleep,
  stateDirs, stateEntries,
} from './lib/docker.js'
import { AGENT_PID, AGENT_SOCKET, INSIDE, RUN_DIR } from './lib/paths.js'
import { alive } from './lib/faults.js'

/** where the engine's containerd keeps a container's bundle (test/e2e/engine/engine.sh's exec root) */
const bundleSpec = (id: string): string =>
  join(RUN_DIR, 'exec', 'containerd', 'daemon', 'io.containerd.runtime.v2.task', 'moby', id, 'config.json')

const agentPid = (): number => Number(readFileSync(AGENT_PID, 'utf8').trim())

if (await engineReady(t)) {
  const gpumem = installForFile(t)

  t.test('install.sh starts the agent; a limited container is decided by it, with no gpumem hook in its spec', async t => {
    t.ok(existsSync(AGENT_SOCKET), 'the agent listens')
    t.ok(alive(agentPid()), 'its pid file names a live process')
    const id = await runLimitedContainer('64m')
    try {
      const spec = JSON.parse(readFileSync(bundleSpec(id), 'utf8')) as { hooks?: Record<string, { path: string }[]>; mounts: { destination: string }[] }
      const hooks = Object.values(spec.hooks ?? {}).flat().map(h => h.path)
      t.same(hooks.filter(p => p.includes('gpumem')), [], 'no prestart or poststop stage of gpumem: no Node start there')
      t.ok(spec.mounts.some(m => m.destination === INSIDE.accounting), 'the accounting region is mounted')
      t.equal(stateEntries(id).length, 1, 'the container has its state directory')
    } finally {
      const rm = await docker('rm', '-f', id)
      t.equal(rm.code, 0, show(rm))
    }
    t.same(stateEntries(id), [], 'deleting the container removes its state (runc delete, no hook)')
  })

  t.test('a limited container that runc cannot create (its program does not exist) leaves no state behind', async t => {
    const before = stateDirs().length
    const r = await dockerRun(['--runtime', 'gpumem', '--annotation', 'gpumem.io/limit=64m'], ['/no/such/program'])
    t.not(r.code, 0, 'docker run fails')
    t.match(r.stderr, /no such file or directory/, "with runc's own reason")
    await sleep(300)
    t.equal(stateDirs().length, before, 'no state directory is left')
  })

  t.test('40 limited containers started at once each get exactly their own budget, and leave nothing behind', async t => {
    const budgets = Array.from({ length: 40 }, (_, i) => 8 + i)
    const results = await Promise.all(budgets.map(mib =>
      dockerRun(['--runtime', 'gpumem', '--annotation', `gpumem.io/limit=${mib}m`], ['alloc-until-oom', '--block', '1m'])))
    for (const [i, r] of results.entries()) {
      const mib = budgets[i] as number
      if (r.code !== 0) { t.fail(`container ${i} (${mib} MiB): ${show(r)}`); continue }
      const a = parseAlloc(r.stdout, show(r))
      t.equal(a.total, mib * MiB, `container ${i}: sees its ${mib} MiB`)
      t.ok(a.allocated <= mib * MiB && a.allocated >= (mib - 4) * MiB, `container ${i}: allocated ${a.allocated / MiB} MiB of ${mib}`)
    }
    await sleep(500)
    t.same(stateDirs(), [], 'no state directory is left')
  })

  t.test('with the agent stopped, or killed with its socket left behind, a limited container is still limited (decided in-process)', async t => {
    const pid = agentPid()
    process.kill(pid, 'SIGKILL')
    for (let i = 0; i < 50 && alive(pid); i++) await sleep(100)
    t.ok(existsSync(AGENT_SOCKET), 'a killed agent leaves its socket')
    const r = await dockerRun(['--runtime', 'gpumem', '--annotation', 'gpumem.io/limit=64m'], ['alloc-until-oom', '--block', '4m'])
    t.equal(r.code, 0, show(r))
    t.equal(parseAlloc(r.stdout, show(r)).total, 64 * MiB, 'the container sees its 64 MiB')
    const bad = await dockerRun(['--runtime', 'gpumem', '--annotation', 'gpumem.io/limit=12parsecs'], ['true'])
    t.equal(bad.code, 125, 'bad input still stops docker run')
    t.match(bad.stderr, /gpumem: annotation gpumem\.io\/limit="12parsecs" is not a valid limit/)
    // back as install.sh left it, for the files after this one
    const child = spawn(join(gpumem().prefix, 'bin', 'gpumem'), ['agent'], { detached: true, stdio: 'ignore' })
    child.unref()
    for (let i = 0; i < 100 && !(existsSync(AGENT_PID) && agentPid() === child.pid); i++) await sleep(100)
    t.equal(agentPid(), child.pid, 'a new agent takes over the stale socket')
  })

  t.test('install.sh --uninstall stops the agent it started', async t => {
    const pid = agentPid()
    const r = await gpumem().uninstall()
    t.equal(r.code, 0, show(r))
    t.notOk(alive(pid), 'the agent is gone')
    t.notOk(existsSync(AGENT_SOCKET), 'and so is its socket')
  })
}
