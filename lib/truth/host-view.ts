/** The host's own view of who uses its GPUs: NVML's processes, and the cgroup /proc puts each in (the thin I/O around judge.ts). */
import { readFileSync } from 'node:fs';
import { NativeError, gpuProcesses, hostGpus, type GpuProcess, type HostGpu } from '../ffi/native.js';
import { inCgroup } from './cgroup.js';
import { containerGpuOf } from './gpu-map.js';
import type { HostRecord } from './host-record.js';
import { truthFor, type Truth } from './judge.js';

export interface HostView {
  gpus: HostGpu[];
  processes: GpuProcess[];
  unlisted: Set<number>;
  /** A process's /proc/<pid>/cgroup, read once per view; '' once it has exited. */
  cgroupOf: (pid: number) => string;
}

/** Null when the host has no NVML (or none with per-process figures): nothing can be checked then. */
export function hostView(): HostView | null {
  let nvml: { gpus: HostGpu[]; processes: GpuProcess[]; unlisted: Set<number> };
  try {
    nvml = { gpus: hostGpus(), ...gpuProcesses() };
  } catch (e) {
    if (e instanceof NativeError) return null;
    throw e;
  }
  const seen = new Map<number, string>();
  const cgroupOf = (pid: number): string => {
    let text = seen.get(pid);
    if (text === undefined) {
      try {
        text = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
      } catch {
        text = '';
      }
      seen.set(pid, text);
    }
    return text;
  };
  return { ...nvml, cgroupOf };
}

/** NVML's figures for the container's processes; null when its cgroup is not known (no record, or one runc's spec did not tell). */
export function containerTruth(view: HostView, record: HostRecord | null): Truth | null {
  const cgroup = record?.cgroup;
  if (!record || !cgroup) return null;
  return truthFor(view.processes, (pid) => inCgroup(view.cgroupOf(pid), cgroup), containerGpuOf(record.visibleDevices, view.gpus, record.gpus?.map((g) => g.uuid)), view.unlisted);
}
