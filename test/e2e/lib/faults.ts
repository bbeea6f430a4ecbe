// Faults for the end-to-end tests: processes found by their command line and killed, the private
// dockerd killed and started again as an init system would, the state root wiped as by a reboot.
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { DAEMON_JSON, DOCKERD_PIDFILE, ENGINE_SH, GPUMEM_RUN } from './paths.js'
import { run, show } from './docker.js'
import { mountsUnder, removeTree } from '../../native/fixtures/remove-tree.js'

export { mountsUnder }

/** pids whose argv satisfies `match` */
export const pidsOf = (match: (argv: string[]) => boolean): number[] => {
  const out: number[] = []
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    let argv: string[]
    try {
      argv = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').filter(Boolean)
    } catch {
      continue // gone meanwhile
    }
    if (argv.length && match(argv)) out.push(Number(name))
  }
  return out
}

/** the runtime shim of this install running `sub` (create, delete...) */
export const shimCalls = (prefix: string, sub: string): number[] =>
  pidsOf(a => a[0] === `${prefix}/bin/gpumem-runtime` && a.includes(sub))

export const killAll = (pids: number[]): number[] =>
  pids.filter(p => {
    try {
      process.kill(p, 'SIGKILL')
      return true
    } catch {
      return false
    }
  })

export const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** SIGKILL to dockerd (its containerd dies with it; the containers' shims do not), waited for */
export const killEngine = async (): Promise<void> => {
  const pid = Number(readFileSync(DOCKERD_PIDFILE, 'utf8').trim())
  process.kill(pid, 'SIGKILL')
  for (let i = 0; i < 100 && alive(pid); i++) await new Promise(r => setTimeout(r, 50))
}

/** dockerd again on the same daemon.json and data, as systemd would restart it */
export const reviveEngine = async (): Promise<void> => {
  const r = await run('bash', [ENGINE_SH, 'revive'], { timeoutMs: 90_000 })
  if (r.code !== 0) throw new Error(`engine.sh revive failed: ${show(r)}`)
}

/** live-restore on or off in the engine's daemon.json, reloaded (SIGHUP) */
export const setLiveRestore = async (on: boolean): Promise<void> => {
  // A reload changes only the keys the file has: off is written out, then the key goes again.
  const d = JSON.parse(readFileSync(DAEMON_JSON, 'utf8')) as Record<string, unknown>
  d['live-restore'] = on
  writeFileSync(DAEMON_JSON, JSON.stringify(d, null, 2) + '\n')
  process.kill(Number(readFileSync(DOCKERD_PIDFILE, 'utf8').trim()), 'SIGHUP')
  const end = Date.now() + 20_000
  for (;;) {
    const r = await run('docker', ['info', '--format', '{{.LiveRestoreEnabled}}'])
    if (r.stdout.trim() === String(on)) {
      if (!on) {
        delete d['live-restore']
        writeFileSync(DAEMON_JSON, JSON.stringify(d, null, 2) + '\n')
      }
      return
    }
    if (Date.now() > end) throw new Error(`dockerd did not turn live-restore ${on ? 'on' : 'off'}: ${show(r)}`)
    await new Promise(res => setTimeout(res, 200))
  }
}


/** /run/gpumem as after a reboot: nothing mounted there, nothing in it */
export const wipeStateRoot = (): void => removeTree(GPUMEM_RUN)

/** container directories under the state root (the agent's socket and pid file aside) */
export const stateDirs = (): string[] =>
  existsSync(GPUMEM_RUN) ? readdirSync(GPUMEM_RUN).filter(n => /^[0-9a-f]{64}$/.test(n)).sort() : []
