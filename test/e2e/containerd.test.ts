// containerd without Docker: `ctr run --runc-binary <prefix>/bin/gpumem-runtime` (Debian 12's
// containerd and ctr, the one the private dockerd runs) limits by annotation and by the
// environment fallback, refuses bad input with gpumem's line, and leaves no state — what
// docs/kubernetes.md shows, in its own namespace of that containerd.
import t from 'tap'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { GPUMEM_RUN, IMAGE, MiB, docker, engineReady, installForFile, parseAlloc, run, show, stateDirs } from './lib/docker.js'
import { RUN_DIR } from './lib/paths.js'

const SOCKET = join(RUN_DIR, 'exec', 'containerd', 'containerd.sock')
const NS = 'gpumem-e2e'
const REF = `docker.io/library/${IMAGE}:latest`

if (await engineReady(t)) {
  const gpumem = installForFile(t)
  const ctr = (...args: string[]) => run('ctr', ['--address', SOCKET, '--namespace', NS, ...args], { timeoutMs: 120_000 })
  const runtime = () => join(gpumem().prefix, 'bin', 'gpumem-runtime')
  const scratch = mkdtempSync(join(tmpdir(), 'gpumem-e2e-ctr-'))
  t.teardown(async () => {
    await ctr('images', 'rm', REF)
    await run('ctr', ['--address', SOCKET, 'namespaces', 'remove', NS])
    rmSync(scratch, { recursive: true, force: true })
  })
  t.before(async () => {
    const tar = join(scratch, 'image.tar')
    const saved = await docker('save', '-o', tar, IMAGE)
    if (saved.code !== 0) throw new Error(`docker save failed: ${show(saved)}`)
    const imported = await ctr('images', 'import', tar)
    if (imported.code !== 0) throw new Error(`ctr images import failed: ${show(imported)}`)
  })
  let n = 0
  const ctrRun = (opts: string[], cmd: string[]) =>
    ctr('run', '--rm', '--runc-binary', runtime(), '--env', 'FAKE_CUDA_DEVICE_MEM=1g', ...opts, REF, `gpumem-ctr-${++n}`, ...cmd)

  t.test('ctr run --runc-binary gpumem-runtime --annotation gpumem.io/limit=64m sees a 64 MiB GPU', async t => {
    const before = stateDirs().length
    const r = await ctrRun(['--annotation', 'gpumem.io/limit=64m'], ['alloc-until-oom', '--block', '4m'])
    t.equal(r.code, 0, show(r))
    const a = parseAlloc(r.stdout, show(r))
    t.equal(a.total, 64 * MiB)
    t.ok(a.allocated <= 64 * MiB && a.allocated >= 60 * MiB, `allocated ${a.allocated / MiB} MiB`)
    t.equal(stateDirs().length, before, `no state left under ${GPUMEM_RUN} after --rm`)
  })

  t.test('the environment fallback carries a limit where no annotation is given', async t => {
    const r = await ctrRun(['--env', 'GPUMEM_LIMIT=32m'], ['alloc-until-oom', '--block', '4m'])
    t.equal(r.code, 0, show(r))
    t.equal(parseAlloc(r.stdout, show(r)).total, 32 * MiB)
  })

  t.test("a bad limit stops ctr run with gpumem's one line", async t => {
    const r = await ctrRun(['--annotation', 'gpumem.io/limit=12parsecs'], ['true'])
    t.not(r.code, 0, show(r))
    t.match(r.stderr, /gpumem: annotation gpumem\.io\/limit="12parsecs" is not a valid limit; use a size like 512m/)
    t.notOk(existsSync(join(GPUMEM_RUN, `gpumem-ctr-${n}`)), 'no state for it')
  })
}
