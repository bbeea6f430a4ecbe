// Helpers for the end-to-end tests: reach the private engine (DOCKER_HOST), run docker and
// compose, install/uninstall gpumem into the engine's daemon.json, parse the test programs' output.
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, accessSync, constants } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  DAEMON_JSON, DOCKER_HOST, DOCKERD_PIDFILE, GPUMEM_RUN, IMAGE, INSIDE, INSTALL_SH, ROOT, readStatus,
} from './paths.js'

export { DAEMON_JSON, DOCKER_HOST, DOCKERD_PIDFILE, GPUMEM_RUN, IMAGE, INSIDE, INSTALL_SH, ROOT }

/** where install.sh writes podman's runtime entry for the tests (--containers-conf-d) */
export const CONTAINERS_CONF_D = '/run/gpumem-test/containers.conf.d'
/** where the exporter install.sh starts serves for the tests (--exporter-listen): not 9400, which a developer's own install may hold */
export const EXPORTER_LISTEN = '127.0.0.1:19400'

export const MiB = 1024 * 1024
/** the fake device size every test container gets (env of the fake libcuda.so.1) */
export const DEVICE = '1g'
export const DEVICE_BYTES = 1024 * MiB
export const inCI = process.env.CI === 'true' || process.env.CI === '1'

/** env for every docker / compose / install.sh command: the private engine, never the host's */
export const env: NodeJS.ProcessEnv = { ...process.env, DOCKER_HOST }
delete env.DOCKER_CONTEXT
delete env.DOCKER_CONFIG

export interface Result {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

export interface Running {
  /** resolves with the first line the process prints on stdout */
  firstLine: Promise<string>
  done: Promise<Result>
  kill: (sig?: NodeJS.Signals) => void
  /** closes stdin (see RunOptions.holdStdin) */
  endInput: () => void
}

export interface RunOptions {
  cwd?: string
  timeoutMs?: number
  input?: string
  /** added to the environment every command gets */
  env?: Record<string, string>
  /** keep stdin open (after input) until endInput(): for a program that runs until EOF */
  holdStdin?: boolean
}

/** start a command; collect its output */
export const start = (cmd: string, args: string[], opts: RunOptions = {}): Running => {
  const child = spawn(cmd, args, { cwd: opts.cwd ?? ROOT, env: { ...env, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  let lineResolve: (s: string) => void = () => {}
  let lineReject: (e: Error) => void = () => {}
  const firstLine = new Promise<string>((res, rej) => { lineResolve = res; lineReject = rej })
  firstLine.catch(() => {}) // optional to await
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d
    const nl = stdout.indexOf('\n')
    if (nl >= 0) lineResolve(stdout.slice(0, nl))
  })
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
  child.stdin.on('error', () => {}) // a program that exited before reading it
  if (opts.holdStdin) child.stdin.write(opts.input ?? '')
  else child.stdin.end(opts.input ?? '')
  const timer = opts.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs) : undefined
  const done = new Promise<Result>(res => {
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer)
      lineReject(new Error(`${cmd} ${args.join(' ')} ended (code ${code}) before printing a line; stderr: ${stderr.trim()}`))
      res({ code, signal, stdout, stderr })
    })
    child.on('error', e => {
      stderr += String(e)
      res({ code: -1, signal: null, stdout, stderr })
    })
  })
  return { firstLine, done, kill: (sig = 'SIGTERM') => child.kill(sig), endInput: () => child.stdin.end() }
}

export const run = (cmd: string, args: string[], opts: RunOptions = {}): Promise<Result> =>
  start(cmd, args, { timeoutMs: 120_000, ...opts }).done

export const docker = (...args: string[]): Promise<Result> => run('docker', args)

/** `docker run --rm -e FAKE_CUDA_DEVICE_MEM=<DEVICE> <opts> gpumem-test <cmd>` */
export const dockerRun = (opts: string[], cmd: string[]): Promise<Result> =>
  docker('run', '--rm', '-e', `FAKE_CUDA_DEVICE_MEM=${DEVICE}`, ...opts, IMAGE, ...cmd)

export interface Alloc {
  allocated: number
  blocks: number
  error: string
  total: number
  free_before: number
  free_after: number
  device_total: number
}

/** the JSON line printed by alloc-until-oom(-linked); throws with the whole output if none */
export const parseAlloc = (out: string, context = ''): Alloc => {
  // compose logs may carry terminal escapes (erase-line) even with --no-color
  const lines = out.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').split('\n').map(l => l.trim()).filter(l => l.startsWith('{') && l.includes('"allocated"'))
  const last = lines[lines.length - 1]
  if (!last) throw new Error(`no JSON result line in the program's output${context ? ` (${context})` : ''}:\n${out}`)
  return JSON.parse(last) as Alloc
}

/** a short description of a command result, for assertion messages */
export const show = (r: Result): string =>
  `exit ${r.code}${r.signal ? ` (${r.signal})` : ''}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`

export interface Tap {
  fail: (msg: string) => unknown
  plan: (n: number, reason?: string) => unknown
  setTimeout: (ms: number) => unknown
  comment: (...args: unknown[]) => unknown
}

/**
 * Is the private engine up? Returns true when the file's tests can run. Otherwise: in CI the file
 * fails (the engine must be there), elsewhere it is skipped with the reason.
 */
export const engineReady = async (t: Tap): Promise<boolean> => {
  t.setTimeout(15 * 60_000)
  const s = readStatus()
  let reason = process.env.GPUMEM_E2E === '0' && !inCI ? 'e2e tests disabled by GPUMEM_E2E=0' : process.getuid?.() !== 0
    ? 'not root: the e2e tests run a private dockerd and need root (run as root, e.g. sudo npm test)'
    : s.ok ? undefined : (s.reason ?? 'the engine is not running')
  if (!reason) {
    const v = await run('docker', ['version', '--format', '{{.Server.Version}}'], { timeoutMs: 20_000 })
    if (v.code !== 0) reason = `the private Docker engine at ${DOCKER_HOST} does not answer: ${v.stderr.trim()}`
  }
  if (reason) {
    if (inCI) t.fail(`the end-to-end tests need the private Docker engine, and in CI it must be there: ${reason}`)
    else t.plan(0, `skipping end-to-end tests: ${reason}`)
    return false
  }
  if (s.imageError) {
    t.fail(`the ${IMAGE} image could not be built: ${s.imageError}`)
    return false
  }
  return true
}

export interface DaemonInfo { runtimes: string[]; defaultRuntime: string }

export const daemonInfo = async (): Promise<DaemonInfo> => {
  const r = await docker('info', '--format', '{{json .Runtimes}}|{{.DefaultRuntime}}')
  if (r.code !== 0) throw new Error(`docker info failed: ${show(r)}`)
  const [rt, def] = r.stdout.trim().split('|')
  return { runtimes: Object.keys(JSON.parse(rt ?? '{}') as object), defaultRuntime: def ?? '' }
}

/** wait (SIGHUP reload is asynchronous) until the engine's runtimes satisfy `ok` */
export const waitDaemon = async (ok: (i: DaemonInfo) => boolean, what: string, timeoutMs = 20_000): Promise<DaemonInfo> => {
  const end = Date.now() + timeoutMs
  let info = await daemonInfo()
  while (!ok(info)) {
    if (Date.now() > end) throw new Error(`dockerd did not reload its configuration (${what}); it reports runtimes ${info.runtimes.join(',')} default ${info.defaultRuntime}`)
    await new Promise(r => setTimeout(r, 250))
    info = await daemonInfo()
  }
  return info
}

const installCmd = (): string[] => {
  try {
    accessSync(INSTALL_SH, constants.X_OK)
    return [INSTALL_SH]
  } catch {
    return ['sh', INSTALL_SH]
  }
}

export interface Installed {
  prefix: string
  result: Result
  uninstall: () => Promise<Result>
}

/**
 * `./install.sh --prefix <tmp> --daemon-json /run/gpumem-test/daemon.json --dockerd-pidfile
 * /run/gpumem-test/docker.pid [--default]`, then wait until dockerd knows the runtime.
 */
export const installGpumem = async (opts: { asDefault?: boolean; env?: Record<string, string> } = {}): Promise<Installed> => {
  const prefix = mkdtempSync(join(tmpdir(), 'gpumem-e2e-prefix-'))
  // The GPU inventory is cached for the boot: one file's fake GPUs must not be the next file's.
  const forgetGpus = () => rmSync(join(GPUMEM_RUN, 'inventory.json'), { force: true })
  forgetGpus()
  // podman's runtime entry too goes to a directory of the tests', never the host's /etc/containers
  const common = ['--prefix', prefix, '--daemon-json', DAEMON_JSON, '--dockerd-pidfile', DOCKERD_PIDFILE, '--containers-conf-d', CONTAINERS_CONF_D, '--exporter-listen', EXPORTER_LISTEN]
  const [cmd, ...pre] = installCmd()
  // opts.env reaches the agent install.sh starts (a fake NVML for the host, a policy file)
  const result = await run(cmd!, [...pre, ...common, ...(opts.asDefault ? ['--default'] : [])], { timeoutMs: 600_000, ...(opts.env ? { env: opts.env } : {}) })
  if (result.code !== 0) {
    rmSync(prefix, { recursive: true, force: true })
    throw new Error(`install.sh failed: ${show(result)}`)
  }
  await waitDaemon(i => i.runtimes.includes('gpumem') && (!opts.asDefault || i.defaultRuntime === 'gpumem'), 'runtime gpumem registered')
  let done: Promise<Result> | undefined
  const uninstall = (): Promise<Result> => {
    done ??= (async () => {
      const r = await run(cmd!, [...pre, ...common, '--uninstall'], { timeoutMs: 300_000 })
      if (r.code === 0) await waitDaemon(i => !i.runtimes.includes('gpumem') && i.defaultRuntime !== 'gpumem', 'runtime gpumem removed')
      rmSync(prefix, { recursive: true, force: true })
      forgetGpus()
      return r
    })()
    return done
  }
  return { prefix, result, uninstall }
}

/**
 * gpumem installed for one test file: install.sh before its tests, --uninstall after them (after
 * `beforeUninstall`, which removes what needs the runtime: containers of its own). Returns the install.
 */
export const installForFile = (
  t: { before: (f: () => Promise<void>) => void; teardown: (f: () => Promise<void>) => void },
  beforeUninstall?: () => Promise<void>,
  env?: Record<string, string>,
): (() => Installed) => {
  let gpumem: Installed | undefined
  t.before(async () => { gpumem = await installGpumem(env ? { env } : {}) })
  t.teardown(async () => {
    await beforeUninstall?.()
    const r = await gpumem?.uninstall()
    if (r && r.code !== 0) throw new Error(`install.sh --uninstall failed: ${show(r)}`)
  })
  return () => {
    if (!gpumem) throw new Error('gpumem is not installed yet (installForFile installs it before the tests)')
    return gpumem
  }
}

/** the containers' state directories under /run/gpumem/ (not gpumem's own files there) */
export const stateDirs = (): string[] =>
  existsSync(GPUMEM_RUN) ? readdirSync(GPUMEM_RUN, { withFileTypes: true }).filter(d => d.isDirectory()).map(d => d.name) : []

/** names under /run/gpumem/ that belong to container `id` */
export const stateEntries = (id: string): string[] => {
  if (!existsSync(GPUMEM_RUN)) return []
  return readdirSync(GPUMEM_RUN).filter(n => n.includes(id) || (id.length >= 12 && n.includes(id.slice(0, 12))))
}

/** a fresh path for `docker run --cidfile` (the file must not exist) */
export const cidfile = (): { path: string; read: () => string; cleanup: () => void } => {
  const dir = mkdtempSync(join(tmpdir(), 'gpumem-e2e-cid-'))
  const path = join(dir, 'cid')
  return {
    path,
    read: () => (existsSync(path) ? readFileSync(path, 'utf8').trim() : ''),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  }
}

export const sleep = (ms: number): Promise<void> => new Promise(r => setTimeout(r, ms))

/** `docker run -d --runtime gpumem --annotation gpumem.io/limit=<limit>` of a container that keeps
 * running (sleep), on the 1 GiB fake device; returns its id, or throws with docker's output. */
export const runLimitedContainer = async (limit: string): Promise<string> => {
  const cid = cidfile()
  try {
    const r = await docker('run', '-d', '--cidfile', cid.path, '-e', `FAKE_CUDA_DEVICE_MEM=${DEVICE}`,
      '--runtime', 'gpumem', '--annotation', `gpumem.io/limit=${limit}`, IMAGE, 'sleep', '300')
    const id = cid.read()
    if (r.code !== 0 || !id) throw new Error(`could not start the container: ${show(r)}`)
    return id
  } finally {
    cid.cleanup()
  }
}
