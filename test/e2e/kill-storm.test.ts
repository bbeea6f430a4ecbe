// 200 SIGKILLs of allocating processes in one limited container, through the real engine: a
// supervisor inside it (kill-storm) keeps eight storm processes allocating and freeing against the
// container's budget (two of them, observers, live through it all), kills one of the others at
// random every few milliseconds and starts another, and leaves
// every third victim an unreaped zombie. Afterwards the host's view (gpumem ps: the region, and
// what the fake NVML sees the container's processes hold) and the device agree exactly with what
// the survivors hold, and no survivor's driver call was blocked over 100 ms.
import t from 'tap'
import { join } from 'node:path'
import { fakeDevice } from './lib/fake-device.js'
import { MiB, docker, engineReady, installForFile, run, show, start, sleep } from './lib/docker.js'
import { IMAGE } from './lib/paths.js'

const BUDGET = 128 * MiB
// No context memory: the test image has no NVML (NVIDIA's toolkit mounts it on real hosts), so the
// interposer could not charge what a context takes; the native kill-storm test charges it.
const KILLS = 200

interface StormResult {
  kills: number; killed_allocating: number; zombies: number; survivors: number; reported: number
  held: number; contexts: number; max_call_us: number; allocs: number; refused: number; info_bad: number; hung: number
}
interface PsRow { container: string; used: number; regionUsed: number; hostUsed: number | null; processes: number; tampering: boolean }

if (await engineReady(t)) {
  const device = fakeDevice()
  let id = ''
  const gpumem = installForFile(t, async () => {
    if (id) await docker('rm', '-f', id)
    device.cleanup()
  })
  const ps = async (): Promise<PsRow | undefined> => {
    const r = await run(join(gpumem().prefix, 'bin', 'gpumem'), ['ps', '--format', 'json'],
      { env: { ...device.hostEnv, GPUMEM_LOG_FILE: join(device.dir, 'gpumem.log') } })
    if (r.code !== 0) throw new Error(`gpumem ps failed: ${show(r)}`)
    return r.stdout.split('\n').filter(Boolean).map(l => JSON.parse(l) as PsRow).find(x => x.container === id)
  }
  /** the host's reading once it settles on `want` (the reconcile thread takes a few ticks), or the last one */
  const settled = async (want: Partial<PsRow>, ms = 5000): Promise<PsRow | undefined> => {
    const end = Date.now() + ms
    let row = await ps()
    while (Date.now() < end && !Object.entries(want).every(([k, v]) => (row as unknown as Record<string, unknown>)?.[k] === v)) {
      await sleep(200)
      row = await ps()
    }
    return row
  }

  t.test(`${KILLS} SIGKILLs of allocating processes in one container, zombies among them, leave the accounting exact and block no survivor over 100 ms`, async t => {
    const r = await docker('run', '-d', ...device.dockerArgs, '-e', 'FAKE_CUDA_DEVICE_MEM=1g', '-e', 'FAKE_CUDA_CONTEXT_MEM=0',
      '--runtime', 'gpumem', '--annotation', 'gpumem.io/limit=128m', IMAGE, 'sleep', '600')
    t.equal(r.code, 0, 'a limited container runs', { output: show(r) })
    id = r.stdout.trim()

    const storm = start('docker', ['exec', '-i', id, 'kill-storm', '--storm', '/usr/local/bin/storm', '--workers', '8', '--observers', '2', '--threads', '2',
      '--kills', String(KILLS), '--zombie-every', '3', '--seed', '7', '--max-block', '1m', '--pace-us', '200', '--gap-ms', '5-30'],
    { holdStdin: true, timeoutMs: 180_000 })
    const s = JSON.parse(await storm.firstLine) as StormResult
    t.equal(s.kills, KILLS, `${KILLS} storm processes were SIGKILLed inside the container`)
    t.ok(s.killed_allocating >= KILLS / 3, `most while allocating, not while starting (${s.killed_allocating})`)
    t.ok(s.zombies >= 60, `${s.zombies} victims stayed zombies (seen as Z), and still are`)
    t.equal(s.hung, 0, 'no survivor hung')
    t.equal(s.reported, s.survivors, `every survivor reported what it holds (${s.reported} of ${s.survivors})`)
    t.equal(s.observers, 2, 'two of them were never killed: they allocated through all the kills')
    t.ok(s.max_call_us < 100_000, `no survivor's driver call was blocked over 100 ms (longest ${(s.max_call_us / 1000).toFixed(1)} ms)`)
    t.ok(s.allocs > 100 && s.contexts >= 1, `the survivors did allocate (${s.allocs} allocations, ${s.refused} refused)`)
    t.equal(s.info_bad, 0, 'cuMemGetInfo never said free > total')

    const expected = s.held
    const row = await settled({ regionUsed: expected })
    t.equal(row?.regionUsed, expected, `the host reads the region: exactly what the survivors hold (${expected / MiB} MiB; it read ${(row?.regionUsed ?? 0) / MiB}), the dead hold nothing`)
    // NVML leaves managed memory out, which the storm allocates too: never more than the region
    t.ok(row?.hostUsed && row.hostUsed > 0 && row.hostUsed <= expected,
      `NVML on the host finds the container's processes holding ${(row?.hostUsed ?? 0) / MiB} MiB of that (managed memory aside)`)
    t.ok(row && row.processes >= s.contexts && row.processes <= s.survivors, `the region counts the survivors as its processes (${row?.processes}; ${s.contexts} of ${s.survivors} with a context)`)
    t.equal(row?.tampering, false, 'nothing is flagged')
    const dev = await docker('exec', id, 'storm', '--read-shared', device.inside)
    const d = JSON.parse(dev.stdout) as { peak: number; live_total: number }
    t.equal(d.live_total, expected, `the device holds exactly that (${(d.live_total / MiB)} MiB)`)
    t.ok(d.peak <= BUDGET, `and never held more than the budget (peak ${(d.peak / MiB).toFixed(1)} MiB of 128)`)

    storm.endInput() // kill-storm ends its survivors and reaps the zombies
    const done = await storm.done
    t.equal(done.code, 0, 'kill-storm ends cleanly', { output: show(done) })
    const after = await settled({ regionUsed: 0, used: 0 })
    t.match(after, { regionUsed: 0, used: 0 }, 'and everything is given back')
  })
}
