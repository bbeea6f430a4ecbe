// tap `before` script (see .taprc): starts the private Docker engine for the end-to-end tests and
// builds the `gpumem-test` image, once per tap run. It never fails the run itself: it records
// what happened in .cache/e2e/engine.json, and each e2e test file reads that record and
// FAILS when CI=true and the engine is not up (never skips in CI), or skips with the reason
// otherwise (not root, engine not installed). `after.ts` stops the engine.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { DOCKER_HOST, DOCKERD, DOCKERD_PIDFILE, DAEMON_JSON, ENGINE_SH, IMAGE_SH, ROOT, writeStatus } from '../lib/paths.js'

const log = (s: string) => process.stderr.write(`[e2e before] ${s}\n`)

const main = (): void => {
  // Disabled: the record is left alone, since another tap run may be using the engine it describes
  // (the e2e files see GPUMEM_E2E=0 themselves).
  if (process.env.GPUMEM_E2E === '0' && process.env.CI !== 'true') {
    log('e2e tests disabled by GPUMEM_E2E=0')
    return
  }
  writeStatus({ ok: false, reason: 'the engine is starting (or its start was interrupted)' })
  if (process.getuid?.() !== 0) {
    const reason = 'not root: the e2e tests run a private dockerd and need root (run as root, e.g. sudo npm test)'
    writeStatus({ ok: false, reason })
    log(reason)
    return
  }
  if (!existsSync(DOCKERD)) {
    const reason = `engine not installed (${DOCKERD} missing): run sudo test/e2e/engine/install-engine.sh`
    writeStatus({ ok: false, reason })
    log(reason)
    return
  }
  log('starting the private Docker engine')
  const start = spawnSync('bash', [ENGINE_SH, 'start'], { cwd: ROOT, stdio: ['ignore', 2, 2] })
  if (start.status !== 0) {
    const reason = `the private Docker engine did not start (exit ${start.status ?? start.signal}); see /run/gpumem-test/dockerd.log`
    writeStatus({ ok: false, reason })
    log(reason)
    return
  }
  log('building the gpumem-test image')
  const img = spawnSync('bash', [IMAGE_SH], {
    cwd: ROOT,
    env: { ...process.env, DOCKER_HOST },
    stdio: ['ignore', 2, 'pipe'],
    encoding: 'utf8',
  })
  process.stderr.write(img.stderr ?? '')
  const imageError =
    img.status === 0 ? undefined : (img.stderr ?? '').trim().split('\n').slice(-3).join(' ') || `exit ${img.status}`
  writeStatus({
    ok: true,
    dockerHost: DOCKER_HOST,
    pidfile: DOCKERD_PIDFILE,
    daemonJson: DAEMON_JSON,
    imageError,
  })
}

main()
