// podman (Debian 12's 4.3) with gpumem-runtime as its OCI runtime: `podman run --runtime
// <prefix>/bin/gpumem-runtime --annotation gpumem.io/limit=...` enforces as docker run does, refuses
// bad input with one line, shares one budget with `podman exec` processes and leaves no state.
// The image is the e2e one, moved from the private Docker engine into a private podman store.
import t from 'tap'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CONTAINERS_CONF_D, GPUMEM_RUN, IMAGE, MiB, docker, engineReady, inCI, installForFile, parseAlloc, run, show, start, stateEntries } from './lib/docker.js'

const podmanPresent = (): boolean => ['/usr/bin/podman', '/usr/local/bin/podman'].some((p) => existsSync(p))

if (await engineReady(t)) {
  if (!podmanPresent()) {
    if (inCI) t.fail('podman is not installed: test/e2e/engine/install-engine.sh installs it')
    else t.plan(0, 'podman is not installed (run test/e2e/engine/install-engine.sh)')
  } else {
    const gpumem = installForFile(t)
    const store = mkdtempSync(join(tmpdir(), 'gpumem-e2e-podman-'))
    t.teardown(() => rmSync(store, { recursive: true, force: true }))
    // A private store, never the host's; vfs and cgroupfs work on any machine, without systemd.
    const podmanArgs = ['--root', join(store, 'storage'), '--runroot', join(store, 'run'), '--storage-driver', 'vfs',
      '--cgroup-manager', 'cgroupfs', '--events-backend', 'file']
    const podman = (...args: string[]) => run('podman', [...podmanArgs, ...args], { timeoutMs: 120_000 })
    const runtime = () => join(gpumem().prefix, 'bin', 'gpumem-runtime')
    // podman asks for rlimits beyond what a CI machine's hard limits may allow; and no network.
    const runArgs = () => ['--network', 'none', '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=4096:4096',
      '--runtime', runtime(), '-e', 'FAKE_CUDA_DEVICE_MEM=1g']

    t.before(async () => {
      const tar = join(store, 'image.tar')
      const saved = await docker('save', '-o', tar, IMAGE)
      if (saved.code !== 0) throw new Error(`docker save failed: ${show(saved)}`)
      const loaded = await podman('load', '-i', tar)
      if (loaded.code !== 0) throw new Error(`podman load failed: ${show(loaded)}`)
    })

    t.test('podman run --annotation gpumem.io/limit=64m sees a 64 MiB GPU and gets out-of-memory there', async t => {
      const r = await podman('run', '--rm', ...runArgs(), '--annotation', 'gpumem.io/limit=64m', IMAGE, 'alloc-until-oom', '--block', '4m')
      t.equal(r.code, 0, show(r))
      const a = parseAlloc(r.stdout, show(r))
      t.equal(a.total, 64 * MiB, 'cuMemGetInfo reports the 64 MiB budget')
      t.ok(a.allocated <= 64 * MiB && a.allocated >= 60 * MiB, `allocated ${a.allocated} bytes, no more than the budget`)
      t.equal(a.error, 'CUDA_ERROR_OUT_OF_MEMORY')
    })

    t.test("install.sh wrote podman's runtime entry: --runtime gpumem by name limits the same way", async t => {
      const conf = join(CONTAINERS_CONF_D, 'gpumem.conf')
      t.match(readFileSync(conf, 'utf8'), `[engine.runtimes]\ngpumem = ["${runtime()}"]`)
      const r = await run('podman', [...podmanArgs, 'run', '--rm', ...runArgs().filter((a, i, all) => a !== '--runtime' && all[i - 1] !== '--runtime'),
        '--runtime', 'gpumem', '--annotation', 'gpumem.io/limit=32m', IMAGE, 'alloc-until-oom', '--block', '4m'], { timeoutMs: 120_000, env: { CONTAINERS_CONF: conf } })
      t.equal(r.code, 0, show(r))
      t.equal(parseAlloc(r.stdout, show(r)).total, 32 * MiB)
    })

    t.test('without a limit podman run through gpumem-runtime gets the whole GPU', async t => {
      const r = await podman('run', '--rm', ...runArgs(), IMAGE, 'alloc-until-oom', '--block', '4m')
      t.equal(r.code, 0, show(r))
      t.equal(parseAlloc(r.stdout, show(r)).total, 1024 * MiB)
    })

    t.test('a bad limit stops podman run with the one line gpumem wrote, and nothing is left behind', async t => {
      const name = 'gpumem-podman-bad'
      t.teardown(async () => { await podman('rm', '-f', '-t', '0', name) })
      const r = await podman('run', '--name', name, ...runArgs(), '--annotation', 'gpumem.io/limit=12parsecs', IMAGE, 'true')
      t.not(r.code, 0, show(r))
      t.match(r.stderr, /gpumem: annotation gpumem\.io\/limit="12parsecs" is not a valid limit; use a size like 512m/)
      const id = (await podman('inspect', '--format', '{{.Id}}', name)).stdout.trim()
      t.match(id, /^[0-9a-f]{64}$/, 'podman made the container (so it got as far as the runtime)')
      t.same(stateEntries(id), [], `nothing under ${GPUMEM_RUN} names it`)
    })

    t.test('podman exec processes share the container budget, and the state goes with the container', async t => {
      const c = await podman('run', '-d', ...runArgs(), '--annotation', 'gpumem.io/limit=64m', IMAGE, 'sleep', '300')
      t.equal(c.code, 0, show(c))
      const id = c.stdout.trim()
      t.teardown(async () => { await podman('rm', '-f', '-t', '0', id) })
      t.ok(existsSync(join(GPUMEM_RUN, id)), 'the container has its state on the host')
      const holder = start('podman', [...podmanArgs, 'exec', id, 'alloc-until-oom', '--block', '4m', '--max', '40m', '--hold', '60'], { timeoutMs: 120_000 })
      const held = parseAlloc(await holder.firstLine)
      t.equal(held.allocated, 40 * MiB, 'a first exec process holds 40 MiB')
      const second = await podman('exec', id, 'alloc-until-oom', '--block', '4m')
      const a = parseAlloc(second.stdout, show(second))
      t.ok(a.allocated <= 24 * MiB && a.allocated >= 20 * MiB, `a second one gets only what is left of 64 MiB (${a.allocated} bytes)`)
      holder.kill()
      await holder.done
      const rm = await podman('rm', '-f', '-t', '0', id)
      t.equal(rm.code, 0, show(rm))
      t.notOk(existsSync(join(GPUMEM_RUN, id)), 'podman rm leaves no state')
    })
  }
}
