// install.sh --default and --uninstall against the engine's daemon.json.
import t from 'tap'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { get } from 'node:http'
import { join } from 'node:path'
import {
  DAEMON_JSON, DOCKERD_PIDFILE, EXPORTER_LISTEN, IMAGE, INSTALL_SH, MiB, daemonInfo, docker, engineReady, installGpumem, parseAlloc, run, show, waitDaemon, type Result,
} from './lib/docker.js'

// what a user's ordinary, non-GPU containers do; compared before and after install --default
const probes: { name: string; cmd: string[] }[] = [
  { name: 'echo', cmd: ['echo', 'hello from a plain container'] },
  { name: 'a non-zero exit code', cmd: ['sh', '-c', 'echo out; echo err >&2; exit 7'] },
  { name: 'the /etc listing', cmd: ['ls', '-a', '/etc'] },
  { name: 'no /etc/ld.so.preload', cmd: ['sh', '-c', 'test -e /etc/ld.so.preload; echo preload=$?'] },
  { name: 'the environment', cmd: ['sh', '-c', 'env | grep -v ^HOSTNAME= | sort'] },
  { name: 'the mounts', cmd: ['sh', '-c', 'grep -c gpumem /proc/self/mountinfo; exit 0'] },
]
const runProbes = async (): Promise<Result[]> => {
  const out: Result[] = []
  for (const p of probes) out.push(await docker('run', '--rm', IMAGE, ...p.cmd))
  return out
}

/** the HTTP status of the exporter's /metrics, or 'refused' when nothing listens */
const exporterAnswer = (): Promise<number | 'refused'> => new Promise(ok => {
  get(`http://${EXPORTER_LISTEN}/metrics`, res => { res.resume(); ok(res.statusCode ?? 0) }).on('error', () => ok('refused'))
})

if (await engineReady(t)) {
  t.test('install.sh --default changes nothing for plain containers, and --uninstall puts daemon.json back byte for byte', async t => {
    const before = readFileSync(DAEMON_JSON)
    const infoBefore = await daemonInfo()
    t.equal(infoBefore.defaultRuntime, 'runc', 'the engine starts with runc as its default runtime')
    const baseline = await runProbes()
    t.equal(baseline[1]?.code, 7, 'the probe with a non-zero exit code really exits 7')

    const gpumem = await installGpumem({ asDefault: true })
    let uninstalled = false
    t.teardown(async () => { if (!uninstalled) await gpumem.uninstall() })
    const info = await daemonInfo()
    t.equal(info.defaultRuntime, 'gpumem', 'dockerd reports gpumem as its default runtime')
    t.ok(info.runtimes.includes('runc-plain'), 'the runtime daemon.json already had is kept')
    const parsed = JSON.parse(readFileSync(DAEMON_JSON, 'utf8')) as Record<string, unknown>
    t.equal(parsed['log-level'], 'info', 'the other settings of daemon.json are kept')
    t.match(gpumem.result.stdout, `exporter serving http://${EXPORTER_LISTEN}/metrics`, 'install.sh says where the exporter serves')
    t.equal(await exporterAnswer(), 200, 'and it answers there')

    await t.test('a plain docker run of a non-GPU container behaves exactly as before', async t => {
      const now = await runProbes()
      probes.forEach((p, i) => {
        t.equal(now[i]?.code, baseline[i]?.code, `${p.name}: same exit code`)
        t.equal(now[i]?.stdout, baseline[i]?.stdout, `${p.name}: same output`)
      })
    })

    await t.test('with gpumem as the default runtime a plain docker run with gpumem.io/limit is limited', async t => {
      const r = await docker('run', '--rm', '-e', 'FAKE_CUDA_DEVICE_MEM=1g', '--annotation', 'gpumem.io/limit=64m',
        IMAGE, 'alloc-until-oom', '--block', '4m')
      t.equal(r.code, 0, `docker run succeeds`, { output: show(r) })
      const a = parseAlloc(r.stdout, show(r))
      t.ok(a.allocated >= 60 * MiB && a.allocated <= 64 * MiB, `allocated ${a.allocated} bytes: between 60 and 64 MiB`)
      t.equal(a.total, 64 * MiB, 'cuMemGetInfo reports a 64 MiB device')
    })

    const un = await gpumem.uninstall()
    uninstalled = true
    t.equal(un.code, 0, `install.sh --uninstall succeeds`, { output: show(un) })
    t.ok(readFileSync(DAEMON_JSON).equals(before), 'daemon.json is byte for byte what it was before install')
    t.equal(await exporterAnswer(), 'refused', 'the exporter is stopped')
    const after = await daemonInfo()
    t.equal(after.defaultRuntime, 'runc', 'the default runtime is runc again')
    t.notOk(after.runtimes.includes('gpumem'), 'dockerd no longer lists the gpumem runtime')
    const r = await docker('run', '--rm', '--runtime', 'gpumem', IMAGE, 'true')
    t.equal(r.code, 125, `docker run --runtime gpumem is refused`, { output: show(r) })
    t.match(r.stderr, /unknown or invalid runtime name: gpumem/, 'as an unknown runtime')
    const again = await runProbes()
    probes.forEach((p, i) => t.equal(again[i]?.stdout, baseline[i]?.stdout, `after uninstall, ${p.name}: same output`))
  })

  t.test('daemon.json edited by hand between install and uninstall: uninstall takes gpumem out and keeps the edits', async t => {
    const original = readFileSync(DAEMON_JSON)
    const gpumem = await installGpumem({ asDefault: true })
    let uninstalled = false
    t.teardown(async () => {
      if (!uninstalled) await gpumem.uninstall()
      writeFileSync(DAEMON_JSON, original) // as the other files expect it
      process.kill(Number(readFileSync(DOCKERD_PIDFILE, 'utf8').trim()), 'SIGHUP')
      await waitDaemon(i => !i.runtimes.includes('runc-by-hand'), 'the hand-added runtime gone again')
    })
    const edited = JSON.parse(readFileSync(DAEMON_JSON, 'utf8')) as { runtimes: Record<string, { path: string }>; [k: string]: unknown }
    edited.labels = ['edited-by=hand']
    edited.runtimes['runc-by-hand'] = { path: edited.runtimes['runc-plain']!.path }
    writeFileSync(DAEMON_JSON, JSON.stringify(edited, null, 4) + '\n')
    const r = await gpumem.uninstall()
    uninstalled = true
    t.equal(r.code, 0, show(r))
    t.match(r.stdout + r.stderr, /edited since install; other changes kept/, 'uninstall says it kept the edits')
    const after = JSON.parse(readFileSync(DAEMON_JSON, 'utf8')) as { runtimes: Record<string, unknown>; [k: string]: unknown }
    t.same(after.labels, ['edited-by=hand'], 'the hand-added setting is kept')
    t.same(Object.keys(after.runtimes).sort(), ['runc-by-hand', 'runc-plain'], 'the hand-added runtime is kept, gpumem is gone')
    t.notOk('default-runtime' in after, 'the default runtime is what it was before install (none named)')
    t.equal(after['log-level'], 'info', 'what was there before install is kept')
    const info = await waitDaemon(i => !i.runtimes.includes('gpumem'), 'gpumem removed')
    t.ok(info.runtimes.includes('runc-by-hand'), 'dockerd runs with the edited file')
    t.equal(info.defaultRuntime, 'runc')
  })

  t.test('install.sh --dry-run prints the daemon.json change as a unified diff and changes nothing', async t => {
    const before = readFileSync(DAEMON_JSON)
    const prefix = join(mkdtempSync(join(tmpdir(), 'gpumem-e2e-dry-')), 'prefix')
    t.teardown(() => rmSync(join(prefix, '..'), { recursive: true, force: true }))
    const r = await run('sh', [INSTALL_SH, '--dry-run', '--default', '--prefix', prefix, '--daemon-json', DAEMON_JSON, '--dockerd-pidfile', DOCKERD_PIDFILE], { timeoutMs: 600_000 })
    t.equal(r.code, 0, show(r))
    t.match(r.stdout, `--- ${DAEMON_JSON}\n+++ ${DAEMON_JSON} (with gpumem)\n`, 'a unified diff of the file')
    t.match(r.stdout, /^\+.*"default-runtime": "gpumem"/m, 'adding gpumem as the default')
    t.match(r.stdout, new RegExp(`^\\+.*"path": "${prefix}/bin/gpumem-runtime"`, 'm'), 'and its runtime')
    t.match(r.stdout, /dry run: nothing was changed/)
    t.ok(readFileSync(DAEMON_JSON).equals(before), 'daemon.json is untouched')
    t.notOk(existsSync(prefix), 'nothing is installed')
    t.notOk((await daemonInfo()).runtimes.includes('gpumem'), 'dockerd knows no gpumem runtime')
  })

  t.test('install.sh --print-containerd prints the containerd handler and the RuntimeClass', async t => {
    const r = await run('sh', [INSTALL_SH, '--print-containerd', '--prefix', '/opt/gpumem'])
    t.equal(r.code, 0, show(r))
    t.match(r.stdout, 'BinaryName = "/opt/gpumem/bin/gpumem-runtime"')
    t.match(r.stdout, 'pod_annotations = ["gpumem.io/*"]')
    t.match(r.stdout, /kind: RuntimeClass\nmetadata:\n  name: gpumem\nhandler: gpumem/)
  })
}
