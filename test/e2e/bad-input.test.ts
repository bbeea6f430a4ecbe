// Bad input at scale through the real engine: a sample of the generated values and keys (the
// create-step test runs them all), each stopping docker run with one line naming its key.
import t from 'tap'
import { quoteName } from '../../lib/ffi/native.js'
import { IMAGE, cidfile, docker, engineReady, installForFile, stateEntries } from './lib/docker.js'
import { badInputs } from './lib/bad-inputs.js'

if (await engineReady(t)) {
  installForFile(t)

  t.test('a sample of the generated bad values and keys: docker run refuses each in one line naming its key, and leaves nothing', async t => {
    // A command line cannot carry NUL; this engine's host has no NVML to size GPUs with.
    const usable = badInputs().filter(b => !b.needsHostGpus && !JSON.stringify(b).includes('\\u0000'))
    const sample = usable.filter((_, i) => i % 8 === 0)
    t.ok(sample.length >= 100, `${sample.length} of ${usable.length} through dockerd`)
    const wrong: string[] = []
    for (const b of sample) {
      const cid = cidfile()
      const args = ['run', '--rm', '--cidfile', cid.path, '--runtime', 'gpumem', '-e', 'NVIDIA_VISIBLE_DEVICES=0,1,2',
        ...Object.entries(b.annotations).flatMap(([k, v]) => ['--annotation', `${k}=${v}`]), ...b.env.flatMap(e => ['-e', e]), IMAGE, 'true']
      const r = await docker(...args)
      const id = cid.read()
      cid.cleanup()
      const line = r.stderr.split('\n').find(l => l.includes('gpumem:')) ?? ''
      const named = line.includes(b.key) || line.includes(quoteName(b.key))
      if (r.code !== 125 || !named) wrong.push(`${JSON.stringify(b)} → exit ${r.code}: ${r.stderr.trim().slice(0, 300)}`)
      if (id) {
        if (stateEntries(id).length > 0) wrong.push(`${JSON.stringify(b)} left state`)
        await docker('rm', '-f', id)
      }
    }
    t.same(wrong, [], 'every one refused with its key named, nothing left in the state root')
  })
}
