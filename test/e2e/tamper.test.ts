// A container that lies about its use through the real engine: it zeroes its accounting region
// between allocations; `gpumem ps` on the host shows what NVML sees its processes hold (found
// through the container's cgroup) and flags it as tampering, in the table, the JSON and the log.
import t from 'tap'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fakeDevice } from './lib/fake-device.js'
import { MiB, docker, engineReady, installForFile, parseAlloc, run, show, start, type Running } from './lib/docker.js'
import { IMAGE, INSIDE } from './lib/paths.js'

interface PsRow { container: string; used: number; regionUsed: number; hostUsed: number | null; tampering: boolean }

if (await engineReady(t)) {
  const device = fakeDevice()
  const ids: string[] = []
  const holders: Running[] = []
  const gpumem = installForFile(t, async () => {
    holders.forEach(h => h.kill('SIGKILL'))
    if (ids.length) await docker('rm', '-f', ...ids)
    device.cleanup()
  })
  const log = join(device.dir, 'gpumem.log') // the warnings, in a log of the test's own
  const ps = (...args: string[]) => run(join(gpumem().prefix, 'bin', 'gpumem'), ['ps', ...args],
    { env: { ...device.hostEnv, GPUMEM_LOG_FILE: log } })

  const container = async (): Promise<string> => {
    const r = await docker('run', '-d', ...device.dockerArgs, '-e', 'FAKE_CUDA_DEVICE_MEM=1g', '--runtime', 'gpumem', '--annotation', 'gpumem.io/limit=64m', IMAGE, 'sleep', '300')
    if (r.code !== 0) throw new Error(`docker run failed: ${show(r)}`)
    const id = r.stdout.trim()
    ids.push(id)
    return id
  }
  const hold = async (id: string, mib: number): Promise<number> => {
    const h = start('docker', ['exec', id, 'alloc-until-oom', '--block', '4m', '--max', `${mib}m`, '--hold', '300'], { timeoutMs: 400_000 })
    holders.push(h)
    return parseAlloc(await h.firstLine).allocated
  }

  t.test('a container that zeroes its region is shown with what the host sees it hold and flagged as tampering; an honest one is not', async t => {
    const liar = await container()
    const honest = await container()
    for (let i = 0; i < 3; i++) {
      if (i > 0) {
        const s = await docker('exec', liar, 'region-scribble', INSIDE.accounting, 'used.0', '0')
        t.equal(s.code, 0, 'the container zeroes its region from inside', { output: show(s) })
      }
      t.equal(await hold(liar, 60), 60 * MiB, `its process ${i + 1} got 60 MiB of the 64 MiB budget`)
    }
    t.equal(await hold(honest, 40), 40 * MiB, 'the honest container holds 40 MiB')

    const r = await ps('--format', 'json')
    t.equal(r.code, 0, 'gpumem ps answers', { output: show(r) })
    const rows = r.stdout.split('\n').filter(Boolean).map(l => JSON.parse(l) as PsRow)
    const bad = rows.find(x => x.container === liar)
    const good = rows.find(x => x.container === honest)
    t.ok(bad && bad.regionUsed <= 64 * MiB, `the liar's region says ${(bad?.regionUsed ?? 0) / MiB} MiB`)
    t.equal(bad?.hostUsed, 180 * MiB, 'the host sees its three processes hold 180 MiB')
    t.equal(bad?.used, 180 * MiB, 'and ps shows that as its use')
    t.equal(bad?.tampering, true, 'flagged as tampering')
    t.match(good, { used: 40 * MiB, hostUsed: 40 * MiB, tampering: false }, 'the honest one: 40 MiB, not flagged')

    const table = await ps()
    const lines = table.stdout.split('\n').filter(l => l.startsWith(liar.slice(0, 12)))
    t.match(lines[0], /180MiB/, 'its row shows what the host sees')
    t.ok(lines.some(l => /TAMPERING: region says/.test(l)), `and the table says so (on its row, or under the table when 80 columns leave no room): ${table.stdout}`)
    const warned = existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(l => l.includes('tampering') && l.includes(liar)) : []
    t.ok(warned.length >= 1, 'and the log has a warning naming the container')
    t.notOk(readFileSync(log, 'utf8').includes(honest), 'none for the honest one')
  })

}
