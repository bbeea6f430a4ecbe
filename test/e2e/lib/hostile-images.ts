// Images built to send gpumem's mounts elsewhere: every mount target, and each directory above
// it, as a symlink to a host-looking path, a directory, a device or a FIFO; plus images with
// harmless oddities that must still run limited. Used by the create-step test (no dockerd) and
// by the end-to-end test, which imports each case as an image.
import { spawnSync } from 'node:child_process'
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { containerPaths } from '../../../lib/layout.js'

export type Entry =
  | { path: string; kind: 'symlink'; to: string }
  | { path: string; kind: 'directory' | 'fifo' | 'device' }
  | { path: string; kind: 'file'; content: string }

export interface HostileCase {
  name: string
  entries: Entry[]
  /** refused: create fails with one line naming `names`; limited: the container runs held to its budget */
  expect: 'refused' | 'limited'
  names?: string
}

const INSIDE = containerPaths()
// What gpumem mounts over: its own directories, and the one file it cannot put in one of its own.
const TARGETS: { path: string; file: boolean }[] = [
  { path: INSIDE.interposerDir, file: false },
  { path: INSIDE.preload, file: true },
  { path: INSIDE.configDir, file: false },
  { path: INSIDE.sharedDir, file: false },
]
// Where an attacker would point a link: the host's /etc, through /proc, gpumem's own files.
const HOST_LOOKING = ['/etc', '/proc/1/root/etc', '/usr/local/lib/gpumem', INSIDE.preload, INSIDE.interposer]

const ancestors = (p: string): string[] => {
  const parts = p.split('/').filter(Boolean).slice(0, -1)
  return parts.map((_, i) => `/${parts.slice(0, i + 1).join('/')}`)
}

const slug = (p: string): string => p.replace(/^\//, '').replace(/[^a-z0-9]+/gi, '-').toLowerCase()

export function hostileCases(): HostileCase[] {
  const out = new Map<string, HostileCase>()
  const refuse = (name: string, entry: Entry): void => {
    if (!out.has(name)) out.set(name, { name, entries: [entry], expect: 'refused', names: entry.path })
  }
  for (const t of TARGETS) {
    for (const to of HOST_LOOKING) if (to !== t.path) refuse(`${slug(t.path)}-to-${slug(to)}`, { path: t.path, kind: 'symlink', to })
    refuse(`${slug(t.path)}-fifo`, { path: t.path, kind: 'fifo' })
    refuse(`${slug(t.path)}-device`, { path: t.path, kind: 'device' })
    if (t.file) refuse(`${slug(t.path)}-directory`, { path: t.path, kind: 'directory' })
    else refuse(`${slug(t.path)}-file`, { path: t.path, kind: 'file', content: 'not a directory\n' })
  }
  const dirs = [...new Set(TARGETS.flatMap((t) => ancestors(t.path)))]
  for (const d of dirs) {
    refuse(`${slug(d)}-to-etc`, { path: d, kind: 'symlink', to: d === '/etc' ? '/proc/1/root/etc' : '/etc' })
    refuse(`${slug(d)}-fifo`, { path: d, kind: 'fifo' })
  }
  refuse('usr-local-relative-link', { path: '/usr/local', kind: 'symlink', to: '../etc' })
  refuse('run-gpumem-to-proc-root', { path: '/run/gpumem', kind: 'symlink', to: '/proc/self/root/run/gpumem' })
  const limited = (name: string, entries: Entry[]): void => { out.set(name, { name, entries, expect: 'limited' }) }
  limited('var-run-links-to-run', [{ path: '/var/run', kind: 'symlink', to: '/run' }])
  limited('own-ld-so-preload', [{ path: INSIDE.preload, kind: 'file', content: '/lib/libnothing.so\n' }])
  limited('own-config-directory', [{ path: `${INSIDE.configDir}/gpumem.conf`, kind: 'file', content: 'limit=1t\n' }])
  limited('own-library-file', [{ path: INSIDE.interposer, kind: 'file', content: 'not an ELF\n' }])
  // Beneath gpumem's directory mounts: hidden, whatever they point at.
  limited('library-to-preload-list', [{ path: INSIDE.interposer, kind: 'symlink', to: INSIDE.preload }])
  limited('accounting-to-preload-list', [{ path: INSIDE.accounting, kind: 'symlink', to: INSIDE.preload }])
  limited('accounting-to-library', [{ path: INSIDE.accounting, kind: 'symlink', to: INSIDE.interposer }])
  limited('accounting-fifo', [{ path: INSIDE.accounting, kind: 'fifo' }])
  return [...out.values()]
}

/** Creates the entries under a rootfs on this machine (as root: devices need mknod). */
export function applyEntries(rootfs: string, entries: readonly Entry[]): void {
  for (const e of entries) {
    const at = join(rootfs, e.path)
    rmSync(at, { recursive: true, force: true })
    mkdirSync(dirname(at), { recursive: true })
    if (e.kind === 'symlink') symlinkSync(e.to, at)
    else if (e.kind === 'directory') mkdirSync(at)
    else if (e.kind === 'file') writeFileSync(at, e.content)
    else {
      const r = e.kind === 'fifo' ? spawnSync('mkfifo', [at]) : spawnSync('mknod', [at, 'c', '1', '3'])
      if (r.status !== 0) throw new Error(`cannot make a ${e.kind} at ${at}: ${String(r.stderr)}`)
    }
  }
}
