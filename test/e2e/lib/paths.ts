// Fixed locations shared by the engine scripts, the tap before/after scripts and the tests.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { agentPidfile, agentSocket, containerPaths, stateRoot } from '../../../lib/layout.js'

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..')
export const RUN_DIR = process.env.GPUMEM_TEST_RUN ?? '/run/gpumem-test'
export const DOCKER_SOCK = `${RUN_DIR}/docker.sock`
export const DOCKER_HOST = `unix://${DOCKER_SOCK}`
export const DOCKERD_PIDFILE = `${RUN_DIR}/docker.pid`
export const DAEMON_JSON = `${RUN_DIR}/daemon.json`
export const ENGINE_CACHE = process.env.GPUMEM_ENGINE_CACHE ?? resolve(ROOT, '.cache/engine')
export const DOCKERD = `${ENGINE_CACHE}/root/usr/sbin/dockerd`
export const ENGINE_SH = resolve(ROOT, 'test/e2e/engine/engine.sh')
export const IMAGE_SH = resolve(ROOT, 'test/e2e/engine/build-image.sh')
export const INSTALL_SH = process.env.GPUMEM_INSTALL_SH ?? resolve(ROOT, 'install.sh')
export const IMAGE = process.env.GPUMEM_TEST_IMAGE ?? 'gpumem-test'
export const STATUS_FILE = resolve(ROOT, '.cache/e2e/engine.json')
/** where gpumem keeps per-container state on the host, and its agent's socket and pid file (as C defines them) */
export const GPUMEM_RUN = stateRoot()
export const AGENT_SOCKET = agentSocket()
export const AGENT_PID = agentPidfile()
/** where the interposer looks inside a container */
export const INSIDE = containerPaths()

export interface EngineStatus {
  ok: boolean
  reason?: string
  dockerHost?: string
  pidfile?: string
  daemonJson?: string
  imageError?: string
  at?: string
}

/** record the engine's state for the test files; never throws (a non-root user may not write) */
export const writeStatus = (s: EngineStatus): void => {
  try {
    mkdirSync(dirname(STATUS_FILE), { recursive: true })
    const tmp = `${STATUS_FILE}.${process.pid}.tmp`
    writeFileSync(tmp, JSON.stringify({ ...s, at: new Date().toISOString() }, null, 2) + '\n')
    renameSync(tmp, STATUS_FILE)
  } catch (e) {
    process.stderr.write(`[e2e] cannot write ${STATUS_FILE}: ${String(e)}\n`)
  }
}

export const readStatus = (): EngineStatus => {
  try {
    return JSON.parse(readFileSync(STATUS_FILE, 'utf8')) as EngineStatus
  } catch {
    return { ok: false, reason: `no engine record (${STATUS_FILE}): run the e2e tests through tap, whose before script starts the engine` }
  }
}
