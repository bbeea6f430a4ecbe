// Several processes of one container: docker exec, one shared budget, memory given back when a
// process exits without freeing or is killed.
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import {
  GPUMEM_RUN, MiB, docker, engineReady, installForFile, parseAlloc, runLimitedContainer, show, start,
} from './lib/docker.js'

const LIMIT = 64 * MiB

if (await engineReady(t)) {
  let id = ''
  const gpumem = installForFile(t, async () => { if (id) await docker('rm', '-f', id) })
  t.before(async () => { id = await runLimitedContainer('64m') })

  const exec = (...cmd: string[]) => docker('exec', id, ...cmd)

  t.test('a process started with docker exec in a limited container is limited too', async t => {
    for (const prog of ['alloc-until-oom', 'alloc-until-oom-linked']) {
      const r = await exec(prog, '--block', '4m')
      t.equal(r.code, 0, `docker exec ${prog} succeeds`, { output: show(r) })
      const a = parseAlloc(r.stdout, show(r))
      t.ok(a.allocated >= 60 * MiB && a.allocated <= LIMIT, `${prog}: allocated ${a.allocated} bytes: between 60 and 64 MiB`)
      t.equal(a.error, 'CUDA_ERROR_OUT_OF_MEMORY', `${prog}: out-of-memory past the budget`)
      t.equal(a.total, LIMIT, `${prog}: cuMemGetInfo reports a 64 MiB device`)
    }
  })

  t.test('two processes in one container share the one budget: together they never get past 64 MiB', async t => {
    const holder = start('docker', ['exec', id, 'alloc-until-oom', '--block', '4m', '--max', '40m', '--hold', '60'], { timeoutMs: 120_000 })
    const held = parseAlloc(await holder.firstLine)
    t.equal(held.allocated, 40 * MiB, 'the first process holds 40 MiB')
    const r = await exec('alloc-until-oom-linked', '--block', '4m')
    t.equal(r.code, 0, `the second process runs`, { output: show(r) })
    const a = parseAlloc(r.stdout, show(r))
    t.ok(held.allocated + a.allocated <= LIMIT, `together ${held.allocated} + ${a.allocated} bytes: not past 64 MiB`)
    t.ok(a.allocated >= 20 * MiB, `the second process still gets what is left (${a.allocated} bytes, at least 20 MiB)`)
    t.equal(a.error, 'CUDA_ERROR_OUT_OF_MEMORY', 'the second process gets out-of-memory at the shared budget')
    t.ok(a.free_before <= LIMIT - held.allocated, `the second process sees at most ${LIMIT - held.allocated} bytes free (saw ${a.free_before})`)
    // SIGTERM ends a holder (contract); by pid inside the container
    await exec('sh', '-c', 'kill -TERM $(pidof alloc-until-oom)')
    const hr = await holder.done
    t.notOk(hr.signal, `the holder ended on SIGTERM`, { output: show(hr) })
  })

  t.test('a process that exits without freeing gives its share back: the next process gets the whole budget', async t => {
    const first = await exec('alloc-until-oom', '--block', '4m', '--max', '40m')
    t.equal(first.code, 0, `the first process runs and exits without freeing`, { output: show(first) })
    t.equal(parseAlloc(first.stdout, show(first)).allocated, 40 * MiB, 'it had 40 MiB')
    const r = await exec('alloc-until-oom', '--block', '4m')
    const a = parseAlloc(r.stdout, show(r))
    t.ok(a.allocated >= 60 * MiB && a.allocated <= LIMIT, `the next process gets ${a.allocated} bytes: between 60 and 64 MiB`)
  })

  t.test('a process killed with SIGKILL while holding memory gives its share back: the next process gets the whole budget', async t => {
    const holder = start('docker', ['exec', id, 'alloc-until-oom-linked', '--block', '4m', '--max', '40m', '--hold', '120'], { timeoutMs: 180_000 })
    const held = parseAlloc(await holder.firstLine)
    t.equal(held.allocated, 40 * MiB, 'the holder has 40 MiB')
    const k = await exec('sh', '-c', 'kill -KILL $(pidof alloc-until-oom-linked)')
    t.equal(k.code, 0, `kill -KILL inside the container works`, { output: show(k) })
    const hr = await holder.done
    t.equal(hr.code, 137, 'the holder died of SIGKILL (docker exec exits 137)')
    const r = await exec('alloc-until-oom', '--block', '4m')
    const a = parseAlloc(r.stdout, show(r))
    t.ok(a.allocated >= 60 * MiB && a.allocated <= LIMIT, `the next process gets ${a.allocated} bytes: between 60 and 64 MiB`)
    t.equal(a.total, LIMIT, 'and still sees a 64 MiB device')
  })

  t.test('a process that died but was never reaped (a zombie) gives its share back: the next process gets the whole budget', async t => {
    // The shell becomes `sleep`, which never reaps the holder it started: killed, it stays a zombie.
    const parent = start('docker', ['exec', id, 'sh', '-c', 'alloc-until-oom --block 4m --max 40m --hold 120 & exec sleep 60'], { timeoutMs: 120_000 })
    const held = parseAlloc(await parent.firstLine)
    t.equal(held.allocated, 40 * MiB, 'the holder has 40 MiB')
    const k = await exec('sh', '-c', 'kill -KILL $(pidof alloc-until-oom); sleep 0.5')
    t.equal(k.code, 0, 'kill -KILL inside the container works', { output: show(k) })
    const z = await exec('sh', '-c', 'for s in /proc/[0-9]*/stat; do cut -d" " -f2,3 "$s"; done | grep -c "(alloc-until-oom) Z"')
    t.equal(z.stdout.trim(), '1', 'the holder is a zombie now', { output: show(z) })
    const r = await exec('alloc-until-oom', '--block', '4m')
    const a = parseAlloc(r.stdout, show(r))
    t.ok(a.allocated >= 60 * MiB && a.allocated <= LIMIT, `the next process gets ${a.allocated} bytes: between 60 and 64 MiB`)
    parent.kill('SIGKILL') // the exec client; the container's own sleep ends with the container
  })

  t.test('the container can neither change its own limit nor put files into the host\'s state directory', async t => {
    const w = await exec('sh', '-c', 'echo limit 1099511627776 > /run/gpumem/config/gpumem.conf')
    t.not(w.code, 0, 'the config is read-only inside the container')
    await exec('sh', '-c', 'touch /run/gpumem/shared/evil; ln -s /etc/passwd /run/gpumem/shared/link; mkfifo /run/gpumem/shared/fifo')
    t.same(readdirSync(`${GPUMEM_RUN}/${id}/shared`), ['accounting'], 'only the accounting region is shared with the host')
    const r = await exec('alloc-until-oom', '--block', '4m')
    t.equal(parseAlloc(r.stdout, show(r)).total, LIMIT, 'the limit is still 64 MiB')
  })

  t.test("a host user other than root cannot reach the container's accounting region; a container user other than root can", async t => {
    const region = `${GPUMEM_RUN}/${id}/shared/accounting`
    const w = spawnSync('sh', ['-c', `echo scribble >> ${region}`], { uid: 65534, gid: 65534, encoding: 'utf8' })
    t.not(w.status, 0, 'nobody on the host cannot write it')
    t.match(w.stderr, /Permission denied/)
    const r = await docker('exec', '--user', '1000:1000', id, 'alloc-until-oom', '--block', '4m')
    t.equal(r.code, 0, show(r))
    const a = parseAlloc(r.stdout, show(r))
    t.equal(a.total, LIMIT, 'uid 1000 inside sees the budget')
    t.ok(a.allocated >= 60 * MiB && a.allocated <= LIMIT, `and is held to it (${a.allocated} bytes)`)
  })
}
