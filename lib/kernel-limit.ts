/**
 * The driver's own per-cgroup memory limit (NVIDIA R615+, nvmlDeviceSetMemoryLimits_v1), the
 * backstop behind the interposer's budget: whether a container gets one (at the decision, which
 * then leaves a marker for the shim), and setting it on the container's leaf cgroup once runc made
 * it, clearing it before runc removes it (for the shim, in the agent or in-process).
 */
import { existsSync } from 'node:fs';
import { join, posix } from 'node:path';
import { constant, setMemoryLimit } from './ffi/native.js';
import { writeFileAtomic } from './atomic-write.js';
import { relative } from './layout.js';
import { log } from './log.js';
import { stateDir, type StateDir } from './state.js';
import { readHostRecord } from './truth/host-record.js';
import type { Inventory } from './gpu/inventory.js';

/** The first driver branch whose NVML sets per-cgroup memory limits. */
export const FIRST_DRIVER_WITH_KERNEL_LIMIT = 615;

export type KernelLimitOp = 'set' | 'clear';

/** The protocol's word for an operation (agent_protocol.h: the shim sends it to the agent and to Node alike); undefined for any other. */
export function kernelLimitOp(word: string | undefined): KernelLimitOp | undefined {
  return word === constant('kernel_limit_set') ? 'set' : word === constant('kernel_limit_clear') ? 'clear' : undefined;
}

/** Where the cgroup hierarchy is mounted; GPUMEM_CGROUP_ROOT moves it for tests. */
export const cgroupRoot = (): string => process.env.GPUMEM_CGROUP_ROOT ?? '/sys/fs/cgroup';

/** The limit is kept by cgroup v2 (the kernel's dmem controller): a unified hierarchy at the root. */
const unifiedHierarchy = (): boolean => existsSync(join(cgroupRoot(), 'cgroup.controllers'));

/** 580 of "580.105.08"; NaN when the version reads oddly (then no limit is asked for). */
const driverMajor = (version: string | undefined): number => {
  const m = /^(\d+)(\.|$)/.exec(version ?? '');
  return m ? Number(m[1]) : NaN;
};

/** A MIG device (no per-cgroup limit there, NVML documents): by the inventory, else by NVIDIA's UUID prefix. */
const isMig = (uuid: string, inventory: Inventory | undefined): boolean =>
  inventory?.gpus.find((g) => g.uuid.toLowerCase() === uuid.toLowerCase())?.mig ?? /^MIG-/i.test(uuid);

export interface KernelLimitFacts {
  driverVersion: string | undefined;
  cgroupV2: boolean;
  /** The container's cgroup as /proc/<pid>/cgroup shows it; null: unknown. */
  cgroup: string | null;
  /** Each GPU of the container with its budget (null: none on it). */
  gpus: readonly { uuid: string; bytes: string | null }[];
  mig: (uuid: string) => boolean;
}

/** Does the container get the driver's limit? Only where every part of it can exist (pure). */
export function kernelLimitApplies(f: KernelLimitFacts): boolean {
  return driverMajor(f.driverVersion) >= FIRST_DRIVER_WITH_KERNEL_LIMIT && f.cgroupV2 && f.cgroup !== null && f.gpus.some((g) => g.bytes !== null && !f.mig(g.uuid));
}

const markerPath = (dir: StateDir): string => join(dir.root, relative.kernelLimitMarker());

/**
 * At the decision, after the host record is written: leaves the marker when the limit applies (one
 * open() tells the shim, no JSON), nothing otherwise. The facts are the record's, as set will read them.
 */
export function markKernelLimit(dir: StateDir, inventory: Inventory | undefined): void {
  const driverVersion = inventory?.driverVersion;
  // Older drivers: not even the cgroup root is looked at.
  if (!(driverMajor(driverVersion) >= FIRST_DRIVER_WITH_KERNEL_LIMIT)) return;
  const record = readHostRecord(dir);
  const facts: KernelLimitFacts = { driverVersion, cgroupV2: unifiedHierarchy(), cgroup: record?.cgroup ?? null, gpus: record?.gpus ?? [], mig: (u) => isMig(u, inventory) };
  if (!kernelLimitApplies(facts)) return;
  writeFileAtomic(markerPath(dir), `${cgroupFile(facts.cgroup as string)}\n`, 0o644, { durable: false });
}

/** The cgroup's directory in sysfs, as NVML's nameSpace takes it. */
const cgroupFile = (cgroup: string): string => posix.join(cgroupRoot(), cgroup);

export type KernelLimitOutcome = { ok: true } | { ok: false; message: string };

interface GpuResult {
  uuid: string;
  bytes: bigint;
  result: 'set' | 'cleared' | 'unavailable' | 'skipped' | 'failed';
  reason?: string;
}

/**
 * Sets (each budgeted GPU's budget, soft = hard) or clears (0) the driver's limit on the container's
 * cgroup, one pino line for the container. Not ok when a GPU's limit could not be set or cleared
 * (the message names the container and why); unavailable (driver, GPU) and MIG GPUs are skipped
 * and logged, as the interposer enforces the budget either way.
 */
export function applyKernelLimit(op: KernelLimitOp, containerId: string, inventory: Inventory | undefined): KernelLimitOutcome {
  const what = op === 'set' ? 'set' : 'cleared';
  const refuse = (why: string): KernelLimitOutcome => {
    const message = `gpumem: the kernel memory limit of container ${containerId} was not ${what}: ${why}`;
    log().error({ container: containerId, kernelLimit: op, outcome: 'failed' }, message);
    return { ok: false, message };
  };
  let dir: StateDir;
  try {
    dir = stateDir(containerId);
  } catch (e) {
    return refuse((e as Error).message.replace(/^gpumem: /, ''));
  }
  const record = readHostRecord(dir);
  if (!record) return refuse(`it has no readable host record (${dir.hostRecordFile}); gpumem did not prepare it, or its state was removed`);
  if (!record.cgroup) return refuse(`its cgroup is not known (${constant('host_record_file')} has none)`);
  const file = cgroupFile(record.cgroup);
  const older = driverMajor(inventory?.driverVersion) < FIRST_DRIVER_WITH_KERNEL_LIMIT;
  const results: GpuResult[] = [];
  for (const g of record.gpus ?? []) {
    if (g.bytes === null) continue; // no budget on it: nothing to back up
    const bytes = op === 'set' ? BigInt(g.bytes) : 0n;
    if (isMig(g.uuid, inventory)) {
      results.push({ uuid: g.uuid, bytes, result: 'skipped', reason: 'a MIG device: the driver sets no per-cgroup limit on those' });
      continue;
    }
    try {
      const r = setMemoryLimit(g.uuid, file, bytes);
      results.push(r === 'set'
        ? { uuid: g.uuid, bytes, result: op === 'set' ? 'set' : 'cleared' }
        : { uuid: g.uuid, bytes, result: 'unavailable', reason: older ? `driver ${inventory?.driverVersion} predates per-cgroup memory limits (R615)` : 'NVML does not offer per-cgroup memory limits on this GPU' });
    } catch (e) {
      // NVML's refusal (NativeError), or no host library at all: either way this GPU's step failed, and the agent lives on.
      results.push({ uuid: g.uuid, bytes, result: 'failed', reason: (e as Error).message.replace(/^gpumem: /, '') });
    }
  }
  const failed = results.filter((r) => r.result === 'failed');
  const done = results.some((r) => r.result === 'set' || r.result === 'cleared');
  const line = { container: containerId, kernelLimit: op, cgroup: file, gpus: results };
  if (failed.length) {
    const message = `gpumem: the kernel memory limit of container ${containerId} was not ${what} on ${failed.map((f) => `${f.uuid} (${f.reason})`).join(', ')}`;
    log().error({ ...line, outcome: 'failed' }, message);
    return { ok: false, message };
  }
  if (done) log().info({ ...line, outcome: what }, `kernel memory limit ${what}`);
  else log().warn({ ...line, outcome: 'unavailable' }, `kernel memory limit not ${what}: unavailable on every GPU of the container`);
  return { ok: true };
}
