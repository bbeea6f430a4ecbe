/** Which cgroup runc puts a container in, and whether a process's /proc/<pid>/cgroup places it there (pure). */
import { posix } from 'node:path';

/** systemd's slice name to its cgroup path: "a-b.slice" is "/a.slice/a-b.slice", "-.slice" the root; null if malformed. */
function expandSlice(slice: string): string | null {
  if (!slice.endsWith('.slice') || slice.includes('/')) return null;
  const name = slice.slice(0, -'.slice'.length);
  if (name === '-') return '';
  const parts = name.split('-');
  if (parts.some((p) => p === '')) return null;
  return parts.map((_, i) => `/${parts.slice(0, i + 1).join('-')}.slice`).join('');
}

/**
 * The container's cgroup as /proc/<pid>/cgroup shows it on the host, from the spec's
 * linux.cgroupsPath in either of runc's forms: the cgroupfs driver's path ("/docker/<id>", from
 * each hierarchy's root), or the systemd driver's "slice:prefix:name" (docker's
 * "system.slice:docker:<id>"), which runc makes the scope "<slice path>/prefix-name.scope" (a
 * name ending in ".slice" is the unit itself; an empty slice is system.slice). Null when it
 * cannot be told from the spec alone: no path (runc then picks one relative to its own cgroup),
 * a relative path (the same), or a malformed one (runc refuses those itself).
 */
export function containerCgroup(cgroupsPath: string | undefined): string | null {
  if (!cgroupsPath) return null;
  if (cgroupsPath.startsWith('/')) {
    const p = posix.normalize(cgroupsPath).replace(/\/+$/, '');
    return p === '' ? null : p; // the root itself would make every process the container's
  }
  const parts = cgroupsPath.split(':');
  if (parts.length !== 3) return null;
  const [slice, prefix, name] = parts as [string, string, string];
  if (name === '' || name.includes('/')) return null;
  const parent = expandSlice(slice === '' ? 'system.slice' : slice);
  if (parent === null) return null;
  // runc's own rule: "<prefix>-<name>.scope", even with an empty prefix.
  const unit = name.endsWith('.slice') ? name : `${prefix}-${name}.scope`;
  return `${parent}/${unit}`;
}

/**
 * Is a process in the cgroup (or below it: a container may make sub-cgroups of its own)? From
 * the text of its /proc/<pid>/cgroup: one "id:controllers:path" line per hierarchy, cgroup v1
 * ("4:memory:/docker/<id>"), v2 ("0::/docker/<id>") or both on a hybrid host; any line will do,
 * as a process sits at its container's path in every hierarchy runc placed it in.
 */
export function inCgroup(procCgroup: string, cgroup: string): boolean {
  for (const line of procCgroup.split('\n')) {
    const m = /^\d+:[^:]*:(.*)$/.exec(line);
    if (!m) continue;
    const path = m[1] as string;
    if (path === cgroup || path.startsWith(cgroup + '/')) return true;
  }
  return false;
}
