/**
 * The host's GPUs (UUID, memory, device minor, MIG devices) from NVML, cached for the boot in
 * the state root (a tmpfs: gone at reboot), so that a start does not pay NVML's initialisation.
 * A GPU a spec names that the cache lacks (MIG devices made since) reads NVML again once.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { writeFileAtomic } from '../atomic-write.js';
import { gpuInventory } from '../ffi/native.js';
import { inventoryFile, stateRoot } from '../layout.js';
import type { InventoryGpu } from './host-gpu.js';

export interface Inventory {
  bootId: string;
  driverVersion: string;
  gpus: InventoryGpu[];
}

const bootId = (): string => {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return 'unknown';
  }
};

function validGpu(g: unknown): g is InventoryGpu {
  const x = g as InventoryGpu;
  return !!x && typeof x.uuid === 'string' && Number.isInteger(x.index) && Number.isFinite(x.totalBytes) && Number.isInteger(x.minor) && typeof x.mig === 'boolean';
}

function cached(boot: string): Inventory | undefined {
  try {
    const data = JSON.parse(readFileSync(inventoryFile(), 'utf8')) as Inventory;
    if (data.bootId === boot && typeof data.driverVersion === 'string' && Array.isArray(data.gpus) && data.gpus.every(validGpu)) return data;
  } catch {
    // none yet, or not ours to trust: asked again
  }
  return undefined;
}

/** NVML asked now, the answer kept for the boot; undefined when the host has no NVML (nothing kept: a driver installed later counts). */
export function refreshInventory(): Inventory | undefined {
  let fresh;
  try {
    fresh = gpuInventory();
  } catch {
    return undefined;
  }
  const inv: Inventory = { bootId: bootId(), driverVersion: fresh.driverVersion, gpus: fresh.gpus };
  try {
    mkdirSync(stateRoot(), { recursive: true, mode: 0o755 });
    writeFileAtomic(inventoryFile(), JSON.stringify(inv) + '\n', 0o644, { durable: false });
  } catch {
    // a read-only or missing state root: the answer still serves this decision
  }
  return inv;
}

/** The inventory of this boot: the cached one, else NVML's. */
export function hostInventory(): Inventory | undefined {
  return cached(bootId()) ?? refreshInventory();
}
