/**
 * What a path in a container's rootfs is, read on the host before runc runs. Only lstat, one
 * component at a time: no symlink of the image's is ever followed, and nothing is opened or written.
 */
import { lstatSync, realpathSync, type Stats } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import type { Kind } from './mount-targets.js';
import type { Spec } from './spec.js';

const kind = (st: Stats): Kind =>
  st.isDirectory() ? 'directory' : st.isFile() ? 'file' : st.isSymbolicLink() ? 'symlink' : st.isFIFO() ? 'fifo' : st.isSocket() ? 'socket' : 'device';

/** The spec's rootfs on the host (root.path is relative to the bundle, as runc reads it). */
export function rootfsOf(bundle: string, spec: Spec): string {
  const path = (spec.root as { path?: unknown } | undefined)?.path;
  if (typeof path !== 'string' || path === '') throw new Error(`gpumem: the spec in ${bundle} names no root.path; runc needs one`);
  return isAbsolute(path) ? path : resolve(bundle, path);
}

/** `kindOf` for mount-targets.ts, over a rootfs on the host. */
export function rootfsKinds(rootfs: string): (path: string) => Kind {
  return (path) => {
    const parts = path.split('/').filter((p) => p !== '' && p !== '.');
    let at = rootfs;
    for (const [i, part] of parts.entries()) {
      if (part === '..') throw new Error(`gpumem: ${path} is not a plain container path`);
      at = join(at, part);
      let st: Stats;
      try {
        st = lstatSync(at);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return 'absent';
        throw e;
      }
      // Not a directory on the way: the path is not reachable as written; say what stops it.
      if (i === parts.length - 1 || !st.isDirectory()) return kind(st);
    }
    return 'directory';
  };
}

/** A bind mount's host source as the kernel will resolve it (the operator's path, not the image's). */
export function realSource(source: string): string {
  try {
    return realpathSync(source);
  } catch {
    return source;
  }
}
