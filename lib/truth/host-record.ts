/** What the host writes down at create to find a container's processes and GPUs later (its cgroup and visible devices), and to tell later whether it still exists. */
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../atomic-write.js';
import type { Spec } from '../oci/spec.js';
import type { StateDir } from '../state.js';
import { containerCgroup } from './cgroup.js';

export interface HostRecord {
  /** The spec's linux.cgroupsPath as written, for people reading the file. */
  cgroupsPath: string | null;
  /** Where its processes are, as /proc/<pid>/cgroup shows it (containerCgroup); null: unknown. */
  cgroup: string | null;
  /** NVIDIA_VISIBLE_DEVICES: which host GPU each of the container's GPU indexes is. */
  visibleDevices: string | null;
  /** The lower runtime's --root at create: the container exists while <runtimeRoot>/<id> does. null: not given. */
  runtimeRoot: string | null;
  /**
   * The container's GPUs by index, each with its budget in bytes (a decimal string; null: none):
   * the host's ledger is these entries of every container's record. null: GPUs not known.
   */
  gpus: RecordedGpu[] | null;
}

export interface RecordedGpu {
  uuid: string;
  bytes: string | null;
}

/** At create, beside the config: never mounted, so the container can neither read nor change it. */
export function writeHostRecord(dir: StateDir, spec: Spec, env: Record<string, string>, runtimeRoot: string | null, gpus: RecordedGpu[] | null = null): void {
  const linux = spec.linux as { cgroupsPath?: unknown } | undefined;
  const cgroupsPath = typeof linux?.cgroupsPath === 'string' ? linux.cgroupsPath : null;
  const record: HostRecord = {
    cgroupsPath,
    cgroup: containerCgroup(cgroupsPath ?? undefined),
    visibleDevices: env.NVIDIA_VISIBLE_DEVICES ?? null,
    runtimeRoot,
    gpus,
  };
  writeFileAtomic(dir.hostRecordFile, JSON.stringify(record) + '\n', 0o644, { durable: false });
}

const stringOrNull = (v: unknown): v is string | null => v === null || typeof v === 'string';

/** The record, or null when there is none (a container created before gpumem wrote one) or it is not one. */
export function readHostRecord(dir: StateDir): HostRecord | null {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(dir.hostRecordFile, 'utf8'));
  } catch {
    return null;
  }
  const r = data as Partial<HostRecord> | null;
  if (!r || typeof r !== 'object' || !stringOrNull(r.cgroupsPath) || !stringOrNull(r.cgroup) || !stringOrNull(r.visibleDevices)) return null;
  // Records written before the field existed: the root is unknown.
  const runtimeRoot = typeof r.runtimeRoot === 'string' && r.runtimeRoot.startsWith('/') ? r.runtimeRoot : null;
  return { cgroupsPath: r.cgroupsPath, cgroup: r.cgroup, visibleDevices: r.visibleDevices, runtimeRoot, gpus: recordedGpus(r.gpus) };
}

/** The record's GPUs; a malformed list counts as none known (the host wrote it, but a record is only read, never trusted to parse). */
function recordedGpus(v: unknown): RecordedGpu[] | null {
  if (!Array.isArray(v)) return null;
  const ok = v.every((g: RecordedGpu) => g && typeof g.uuid === 'string' && (g.bytes === null || (typeof g.bytes === 'string' && /^[1-9]\d{0,19}$/.test(g.bytes))));
  return ok ? (v as RecordedGpu[]) : null;
}

/** The record with its GPUs' budgets changed (gpumem update), written as at create. */
export function rewriteHostRecord(dir: StateDir, record: HostRecord): void {
  writeFileAtomic(dir.hostRecordFile, JSON.stringify(record) + '\n', 0o644, { durable: false });
}
