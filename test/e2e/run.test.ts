// docker run through the real engine: annotation, environment fallback, bad input, cleanup.
import t from 'tap'
import { existsSync } from 'node:fs'
import {
  DEVICE_BYTES, GPUMEM_RUN, IMAGE, MiB, cidfile, docker, dockerRun, engineReady, installForFile,
  parseAlloc, show, stateEntries, waitDaemon,
} from './lib/docker.js'

const PROGRAMS = ['alloc-until-oom', 'alloc-until-oom-linked']

if (await engineReady(t)) {
  installForFile(t)

  for (const prog of PROGRAMS) {
    t.test(`a container with gpumem.io/limit=64m sees a 64 MiB GPU and ${prog} gets out-of-memory at 64 MiB`, async t => {
      const r = await dockerRun(['--runtime', 'gpumem', '--annotation', 'gpumem.io/limit=64m'], [prog, '--block', '4m'])
      t.equal(r.code, 0, `docker run succeeds`, { output: show(r) })
      const a = parseAlloc(r.stdout, show(r))
      t.ok(a.allocated >= 60 * MiB && a.allocated <= 64 * MiB, `allocated ${a.allocated} bytes: between 60 and 64 MiB`)
      t.equal(a.error, 'CUDA_ERROR_OUT_OF_MEMORY', 'the allocation past the budget fails with CUDA_ERROR_OUT_OF_MEMORY')
      t.equal(a.total, 64 * MiB, 'cuMemGetInfo reports a 64 MiB device')
    })

    t.test(`without a limit ${prog} gets the whole GPU, with runtime gpumem or plain runc`, async t => {
      for (const runtime of ['gpumem', 'runc']) {
        const r = await dockerRun(['--runtime', runtime], [prog, '--block', '4m'])
        t.equal(r.code, 0, `docker run --runtime ${runtime} succeeds`, { output: show(r) })
        const a = parseAlloc(r.stdout, show(r))
        t.equal(a.total, DEVICE_BYTES, `--runtime ${runtime}: cuMemGetInfo reports the whole fake device`)
        t.ok(a.allocated > DEVICE_BYTES - 4 * MiB && a.allocated <= DEVICE_BYTES,
          `--runtime ${runtime}: allocated ${a.allocated} bytes, the whole device`)
      }
    })
  }

  t.test('GPUMEM_LIMIT=64m in the environment limits the container like the annotation does', async t => {
    for (const prog of PROGRAMS) {
      const r = await dockerRun(['--runtime', 'gpumem', '-e', 'GPUMEM_LIMIT=64m'], [prog, '--block', '4m'])
      t.equal(r.code, 0, `docker run succeeds`, { output: show(r) })
      const a = parseAlloc(r.stdout, show(r))
      t.ok(a.allocated >= 60 * MiB && a.allocated <= 64 * MiB, `${prog}: allocated ${a.allocated} bytes: between 60 and 64 MiB`)
      t.equal(a.error, 'CUDA_ERROR_OUT_OF_MEMORY', `${prog}: out-of-memory past the budget`)
      t.equal(a.total, 64 * MiB, `${prog}: cuMemGetInfo reports a 64 MiB device`)
    }
  })

  t.test('GPUMEM_STATE_DIR or GPUMEM_LIMIT set by a process inside a limited container change nothing: the host\'s budget holds', async t => {
    const r = await dockerRun(['--runtime', 'gpumem', '--annotation', 'gpumem.io/limit=64m'],
      ['sh', '-c', 'GPUMEM_STATE_DIR=/tmp GPUMEM_LIMIT=1g exec alloc-until-oom --block 4m'])
    t.equal(r.code, 0, show(r))
    const a = parseAlloc(r.stdout, show(r))
    t.equal(a.total, 64 * MiB, 'the process sees the 64 MiB budget')
    t.ok(a.allocated <= 64 * MiB && a.allocated >= 60 * MiB, `and gets no more (${a.allocated} bytes)`)
  })

  t.test('GPUMEM_STATE_DIR or a mistyped gpumem key in the spec stops docker run with one line naming it', async t => {
    const state = await dockerRun(['--runtime', 'gpumem', '--annotation', 'gpumem.io/limit=64m', '-e', 'GPUMEM_STATE_DIR=/tmp'], ['true'])
    t.equal(state.code, 125, show(state))
    t.match(state.stderr, /gpumem: environment variable GPUMEM_STATE_DIR may only be set by the host/)
    const key = await dockerRun(['--runtime', 'gpumem', '--annotation', 'Gpumem.io/limit=64m'], ['true'])
    t.equal(key.code, 125, show(key))
    t.match(key.stderr, /gpumem: unknown annotation Gpumem\.io\/limit; accepted: gpumem\.io\/limit/)
  })

  t.test('a limit of 12parsecs is refused by docker run with a message naming the annotation and the accepted forms, and nothing is left behind', async t => {
    const cid = cidfile()
    t.teardown(cid.cleanup)
    const r = await docker('run', '--rm', '--cidfile', cid.path, '--runtime', 'gpumem',
      '--annotation', 'gpumem.io/limit=12parsecs', IMAGE, 'alloc-until-oom', '--block', '4m')
    t.equal(r.code, 125, `docker run fails with exit code 125`, { output: show(r) })
    t.match(r.stderr, 'gpumem.io/limit', 'the error names gpumem.io/limit')
    t.match(r.stderr, /12parsecs/, 'the error quotes the bad value')
    t.match(r.stderr, /\d+\s*(?:[kmgtp]i?b?)\b/i, 'the error shows an accepted size form (like 8g)')
    t.match(r.stderr, /%/, 'the error shows the accepted percent form')
    t.notMatch(r.stdout, /"allocated"/, 'the program never ran')
    const id = cid.read()
    t.ok(id, 'docker created the container (so it got as far as the runtime)')
    if (id) {
      t.notOk(existsSync(`${GPUMEM_RUN}/${id}`), `no ${GPUMEM_RUN}/<id> directory is left`)
      t.same(stateEntries(id), [], `nothing under ${GPUMEM_RUN}/ names the container`)
      await docker('rm', '-f', id)
      t.same(stateEntries(id), [], `nothing under ${GPUMEM_RUN}/ names the container after docker rm either`)
    }
  })

  t.test('while a limited container runs it has a state directory on the host, and after it finishes the directory is gone', async t => {
    const cid = cidfile()
    t.teardown(cid.cleanup)
    const r = await docker('run', '-d', '--cidfile', cid.path, '--runtime', 'gpumem',
      '--annotation', 'gpumem.io/limit=64m', IMAGE, 'sleep', '300')
    t.equal(r.code, 0, `docker run -d succeeds`, { output: show(r) })
    const id = cid.read()
    t.ok(id, 'got the container id')
    t.ok(existsSync(`${GPUMEM_RUN}/${id}`), `${GPUMEM_RUN}/<id> exists while the container runs`)
    const rm = await docker('rm', '-f', id)
    t.equal(rm.code, 0, `docker rm -f succeeds`, { output: show(rm) })
    t.notOk(existsSync(`${GPUMEM_RUN}/${id}`), `${GPUMEM_RUN}/<id> is gone after the container is removed`)
    t.same(stateEntries(id), [], `nothing under ${GPUMEM_RUN}/ names the container`)
  })

  t.test('after docker run --rm with a limit finishes, its state directory under /run/gpumem is gone', async t => {
    const cid = cidfile()
    t.teardown(cid.cleanup)
    const r = await docker('run', '--rm', '--cidfile', cid.path, '-e', 'FAKE_CUDA_DEVICE_MEM=1g', '--runtime', 'gpumem',
      '--annotation', 'gpumem.io/limit=64m', IMAGE, 'alloc-until-oom', '--block', '4m')
    t.equal(r.code, 0, `docker run succeeds`, { output: show(r) })
    const id = cid.read()
    t.ok(id, 'got the container id')
    t.notOk(existsSync(`${GPUMEM_RUN}/${id}`), `${GPUMEM_RUN}/<id> is gone`)
    t.same(stateEntries(id), [], `nothing under ${GPUMEM_RUN}/ names the container`)
  })

  t.test('dockerd still lists the gpumem runtime next to the runtimes daemon.json already had', async t => {
    const info = await waitDaemon(i => i.runtimes.includes('gpumem'), 'gpumem registered')
    t.ok(info.runtimes.includes('runc-plain'), 'the runtime that was in daemon.json before install is still there')
    t.equal(info.defaultRuntime, 'runc', 'without --default the default runtime stays runc')
  })
}
