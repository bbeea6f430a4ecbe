// tap `after` script (see .taprc): stops the private Docker engine that before.ts started.
// Runs even when tests failed or bailed out. A run killed before this ran leaves dockerd
// behind; the next before.ts finds it by its pid file / command line and stops it first.
import { spawnSync } from 'node:child_process'
import { ENGINE_SH, ROOT, readStatus, writeStatus } from '../lib/paths.js'

const status = readStatus()
// GPUMEM_E2E=0: before.ts started nothing, and an engine another tap run is using is left alone.
const disabled = process.env.GPUMEM_E2E === '0' && process.env.CI !== 'true'
if (process.getuid?.() === 0 && !disabled) {
  const r = spawnSync('bash', [ENGINE_SH, 'stop'], { cwd: ROOT, stdio: ['ignore', 2, 2] })
  if (r.status !== 0) process.stderr.write(`[e2e after] engine.sh stop exited ${r.status}\n`)
}
writeStatus({
  ok: false,
  reason: status.ok
    ? 'the engine was stopped by the last tap run: run the e2e tests through tap (its before script starts it)'
    : status.reason,
})
