// docker compose: `runtime: gpumem` and `annotations: {gpumem.io/limit: 64m}` on a service.
import t from 'tap'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  DEVICE, IMAGE, MiB, docker, dockerRun, engineReady, installForFile, parseAlloc, run, show,
} from './lib/docker.js'

const service = (command: string[]) => `
    image: ${IMAGE}
    runtime: gpumem
    annotations:
      gpumem.io/limit: 64m
    environment:
      FAKE_CUDA_DEVICE_MEM: ${DEVICE}
    command: ${JSON.stringify(command)}`

const composeYaml = `services:
  oom:${service(['alloc-until-oom', '--block', '4m'])}
  oom-linked:${service(['alloc-until-oom-linked', '--block', '4m'])}
  idle:${service(['sleep', '300'])}
`

if (await engineReady(t)) {
  const dir = mkdtempSync(join(tmpdir(), 'gpumem-e2e-compose-'))
  const project = `gpumem-e2e-${process.pid}`
  writeFileSync(join(dir, 'compose.yaml'), composeYaml)
  const compose = (...args: string[]) => run('docker', ['compose', '-p', project, ...args], { cwd: dir, timeoutMs: 180_000 })

  installForFile(t, async () => {
    await compose('down', '--remove-orphans', '--timeout', '1')
    rmSync(dir, { recursive: true, force: true })
  })

  for (const svc of ['oom', 'oom-linked']) {
    const prog = svc === 'oom' ? 'alloc-until-oom' : 'alloc-until-oom-linked'
    t.test(`docker compose up of a service with runtime gpumem and gpumem.io/limit: 64m limits ${prog} to 64 MiB`, async t => {
      const up = await compose('up', svc)
      t.equal(up.code, 0, `docker compose up succeeds`, { output: show(up) })
      const logs = await compose('logs', '--no-log-prefix', '--no-color', svc)
      t.equal(logs.code, 0, `docker compose logs succeeds`, { output: show(logs) })
      const a = parseAlloc(logs.stdout, show(logs))
      t.ok(a.allocated >= 60 * MiB && a.allocated <= 64 * MiB, `allocated ${a.allocated} bytes: between 60 and 64 MiB`)
      t.equal(a.error, 'CUDA_ERROR_OUT_OF_MEMORY', 'out-of-memory past the budget')
      t.equal(a.total, 64 * MiB, 'cuMemGetInfo reports a 64 MiB device')
      const ps = await compose('ps', '-a', '--format', '{{.ExitCode}}', svc)
      const same = await dockerRun(['--runtime', 'gpumem', '--annotation', 'gpumem.io/limit=64m'], [prog, '--block', '4m'])
      t.equal(ps.stdout.trim(), String(same.code), `the service exits with the code docker run gives the program (${same.code})`, { output: show(ps) })
    })
  }

  t.test('a process started with docker compose exec in a limited service is limited too', async t => {
    const up = await compose('up', '-d', 'idle')
    t.equal(up.code, 0, `docker compose up -d succeeds`, { output: show(up) })
    const r = await compose('exec', '-T', 'idle', 'alloc-until-oom', '--block', '4m')
    t.equal(r.code, 0, `docker compose exec succeeds`, { output: show(r) })
    const a = parseAlloc(r.stdout, show(r))
    t.ok(a.allocated >= 60 * MiB && a.allocated <= 64 * MiB, `allocated ${a.allocated} bytes: between 60 and 64 MiB`)
    t.equal(a.total, 64 * MiB, 'cuMemGetInfo reports a 64 MiB device')
    const down = await compose('down', '--timeout', '1')
    t.equal(down.code, 0, `docker compose down succeeds`, { output: show(down) })
    const left = await docker('ps', '-aq', '--filter', `label=com.docker.compose.project=${project}`)
    t.equal(left.stdout.trim(), '', 'no container of the project is left')
  })
}
