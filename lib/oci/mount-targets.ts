/**
 * Where gpumem's mounts would land, checked before runc runs: an image or a volume must not be
 * able to send them elsewhere (a symlink at a target follows inside the rootfs: `config → /etc`
 * would hide /etc/ld.so.preload), nor make runc leave a stub file in a host directory, nor put
 * gpumem's state root within a container's reach. Pure: the rootfs is seen through `kindOf`.
 */
import { posix } from 'node:path';
import type { Mount } from './spec.js';

/** What a path in the image is, without following a symlink at it. */
export type Kind = 'absent' | 'directory' | 'file' | 'symlink' | 'device' | 'fifo' | 'socket';

export interface Target {
  /** Absolute path inside the container. */
  path: string;
  /** What gpumem mounts there: a file onto a file, a directory onto a directory. */
  expects: 'file' | 'directory';
  /** For the message: "its interposer", "the preload list", ... */
  what: string;
}

const norm = (p: string): string => {
  const n = posix.normalize(`/${p}`);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
};

/** `/a/b/c` → [`/a`, `/a/b`] (the directories runc walks through to reach the target). */
const ancestors = (path: string): string[] => {
  const parts = norm(path).split('/').slice(1, -1);
  return parts.map((_, i) => `/${parts.slice(0, i + 1).join('/')}`);
};

const isWithin = (path: string, dir: string): boolean => dir === '/' || path === dir || path.startsWith(`${dir}/`);

const isBind = (m: Mount): boolean => m.type === 'bind' || (m.options ?? []).some((o) => o === 'bind' || o === 'rbind');

/**
 * The reason the targets are unsafe in this container, or null. `mounts` are the spec's own (not
 * gpumem's); `realSource` resolves a bind mount's host source; `stateRoot` is the host's.
 */
export function unsafeTarget(
  targets: readonly Target[],
  mounts: readonly Mount[],
  kindOf: (path: string) => Kind,
  realSource: (source: string) => string,
  stateRoot: string,
): string | null {
  const root = norm(stateRoot);
  for (const m of mounts) {
    if (!isBind(m) || !m.source) continue;
    const src = norm(realSource(m.source));
    if (isWithin(src, root) || isWithin(root, src)) {
      return `gpumem: the volume ${m.source}:${m.destination} reaches gpumem's state (${root}), which no container may see; mount something that neither contains nor lies inside ${root}`;
    }
  }
  for (const t of targets) {
    const target = norm(t.path);
    // The last mount over the target's directories decides what runc walks through: a mount
    // exactly at the target is replaced by gpumem's (nothing is created under it).
    const covering = mounts.filter((m) => norm(m.destination) !== target && isWithin(target, norm(m.destination))).pop();
    if (covering && isBind(covering)) {
      return `gpumem: the volume ${covering.source ?? '?'}:${covering.destination} covers ${target}, where gpumem mounts ${t.what}; runc would create it inside that host directory. Mount the volume elsewhere (not over ${norm(covering.destination)})`;
    }
    // Below a mount of the engine's own (tmpfs, ...) everything is new: nothing of the image's.
    if (covering) continue;
    for (const dir of ancestors(target)) {
      const k = kindOf(dir);
      if (k === 'absent') break; // runc creates the rest as directories
      if (k !== 'directory') return imageRefusal(dir, k, 'a directory', target, t.what);
    }
    const k = kindOf(target);
    if (k !== 'absent' && k !== t.expects) {
      return imageRefusal(target, k, t.expects === 'file' ? 'a regular file (or nothing)' : 'a directory (or nothing)', target, t.what);
    }
  }
  return null;
}

const imageRefusal = (path: string, kind: Kind, wanted: string, target: string, what: string): string =>
  `gpumem: the image has a ${kind} at ${path}, ${path === target ? '' : `on the way to ${target} `}where gpumem mounts ${what}; only ${wanted} may be there in a limited container (rebuild the image without it)`;
