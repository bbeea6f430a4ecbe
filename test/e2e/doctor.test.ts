// gpumem doctor on a host installed by install.sh, through the real engine: every check ok (or a
// warning that is this machine's: no NVML in CI) with a test container run through the gpumem
// runtime; then, as an operator breaks the host, the check that names it and its fix.
import t from 'tap'
import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  DAEMON_JSON, EXPORTER_LISTEN, IMAGE, ROOT, engineReady, installForFile, run, show,
} from './lib/docker.js'
import { RUN_DIR } from './lib/paths.js'

const POLICY = join(RUN_DIR, 'gpumem-doctor-policy.json')
const hostEnv = { FAKE_NVML_DEVICE_MEMS: '24g,80g', LD_LIBRARY_PATH: join(ROOT, 'native/build/fake'), GPUMEM_POLICY: POLICY }

interface Check { check: string; status: string; detail: string; fix: string | null }

if (await engineReady(t)) {
  const gpumem = installForFile(t, async () => { rmSync(POLICY, { force: true }) }, hostEnv)
  const doctor = async (...args: string[]) => {
    const r = await run(join(gpumem().prefix, 'bin', 'gpumem'), ['doctor', '--format', 'json', '--daemon-json', DAEMON_JSON, '--exporter', EXPORTER_LISTEN, ...args], { env: hostEnv, timeoutMs: 120_000 })
    let checks: Check[] = []
    try { checks = JSON.parse(r.stdout) } catch { /* shown by the assertion on the status */ }
    return { r, by: new Map(checks.map(c => [c.check, c])) }
  }

  t.test('after install.sh every check passes, the interposer seen loaded in a test container', async t => {
    // the test image's cat is busybox's (static): its dynamically linked one is gnu-cat
    const { r, by } = await doctor('--image', IMAGE, '--probe', 'gnu-cat')
    t.equal(r.code, 0, 'gpumem doctor exits 0', { output: show(r) })
    for (const c of ['daemon.json', 'dockerd', 'default runtime', 'interposer', 'NVML', 'driver-taken memory', 'policy', 'agent', 'exporter']) {
      t.equal(by.get(c)?.status, 'ok', `${c}: ${by.get(c)?.detail}`)
    }
    t.match(by.get('interposer')?.detail, `loaded in a test container of ${IMAGE}`)
    t.match(by.get('dockerd')?.detail, /^Docker Engine \d+\.\S+ knows runtime gpumem$/)
    t.match(by.get('agent')?.detail, /^listening on /)
    t.match(by.get('exporter')?.detail, `serving http://${EXPORTER_LISTEN}/metrics`)
    t.notOk([...by.values()].some(c => c.status === 'fail'), 'nothing failed')
  })

  t.test('a statically linked probe cannot show it: a warning that says so, not a failure', async t => {
    const { r, by } = await doctor('--image', IMAGE)
    t.equal(r.code, 0)
    t.match(by.get('interposer'), { status: 'warn', detail: /^cat in gpumem-test is statically linked .*\/etc\/ld\.so\.preload names /, fix: /--probe/ })
  })

  t.test('a policy file with a mistake: the policy check fails with its line, and so does the test container', async t => {
    writeFileSync(POLICY, JSON.stringify({ defaultLimit: '1g', overcomit: 'allow' }))
    try {
      const { r, by } = await doctor('--image', IMAGE, '--probe', 'gnu-cat')
      t.equal(r.code, 1, 'exit 1')
      t.match(by.get('policy'), { status: 'fail', detail: /overcomit/, fix: /docs\/policy\.md/ })
      t.match(by.get('interposer'), { status: 'fail', detail: /did not run: .*overcomit/ }, 'the engine refuses the limited test container for the same reason')
    } finally {
      rmSync(POLICY, { force: true })
    }
    t.equal((await doctor()).r.code, 0, 'once it is put right, exit 0 again')
  })

  t.test('an image that does not exist: the interposer check fails with docker\'s own line', async t => {
    const { r, by } = await doctor('--image', 'gpumem-no-such-image:never')
    t.equal(r.code, 1)
    t.match(by.get('interposer'), { status: 'fail', detail: /did not run: .*(No such image|pull access denied|not found|Unable to find)/i })
  })
}
