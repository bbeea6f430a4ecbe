/** Each container's host-side state directory: its interposer config (mounted read-only) and its shared accounting region. */
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { relative, reservedNames, stateRoot } from './layout.js';
import { mountRegionStorage, unmountRegionStorage } from './ffi/native.js';

// runc's own rule for ids; it also keeps an id from naming a path outside the state root.
const ID = /^[\w+\-.]+$/;

export interface StateDir {
  root: string;
  /** Mounted read-only at /run/gpumem/config; holds gpumem.conf. */
  configDir: string;
  configFile: string;
  /** The region's own tmpfs: mounted read-only at /run/gpumem/shared, the region alone read-write on top. */
  sharedDir: string;
  accountingFile: string;
  /** Never mounted: the container's cgroup and GPUs, for the host's check against NVML. */
  hostRecordFile: string;
}

export const validContainerId = (id: string): boolean => ID.test(id) && id !== '.' && id !== '..';

export function stateDir(containerId: string): StateDir {
  if (!validContainerId(containerId)) {
    throw new Error(`gpumem: container id "${containerId}" is not a valid runc id`);
  }
  if (reservedNames().includes(containerId)) {
    throw new Error(`gpumem: container id "${containerId}" is a name gpumem keeps for itself under ${stateRoot()}; use another id`);
  }
  const root = join(stateRoot(), containerId);
  return {
    root,
    configDir: join(root, relative.configDir()),
    configFile: join(root, relative.configFile()),
    sharedDir: join(root, relative.sharedDir()),
    accountingFile: join(root, relative.accountingFile()),
    hostRecordFile: join(root, relative.hostRecordFile()),
  };
}

/** Creates the empty directories runc bind-mounts. */
export function createStateDir(dir: StateDir): void {
  mkdirSync(stateRoot(), { recursive: true, mode: 0o755 });
  // runc ids are unique among live containers: anything here is a crashed run's leftover.
  removeStateDir(dir);
  // Root only: the region inside is writable by every container user (0666), so the host's
  // path to it must not be open to every host user. Containers reach config/ and shared/
  // through their own mounts, which do not pass through this directory.
  mkdirSync(dir.root, { mode: 0o700 });
  mkdirSync(dir.configDir, { mode: 0o755 });
  chmodSync(dir.configDir, 0o755); // whatever the caller's umask: container users of any uid read it
  mkdirSync(dir.sharedDir, { mode: 0o755 });
  // The container writes the region through its mount: on its own small tmpfs it cannot grow
  // it over the host's /run.
  mountRegionStorage(dir.sharedDir);
}

export function removeStateDir(dir: StateDir): void {
  unmountRegionStorage(dir.sharedDir);
  rmSync(dir.root, { recursive: true, force: true });
}
