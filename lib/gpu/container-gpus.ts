/**
 * Which of the host's GPUs a container has, in every form engines write it (pure): the
 * NVIDIA_VISIBLE_DEVICES variable that `--gpus` and NVIDIA's runtime read, and the /dev/nvidia<N>
 * device nodes that CDI (`--device nvidia.com/gpu=0`, Docker 29.2's `--gpus`) and `--device` put
 * in the spec. The container's GPU i is the i-th of them in the host's (NVML's) order, as
 * nvidia-smi numbers them inside the container.
 */
import type { InventoryGpu } from './host-gpu.js';
import { LimitError } from '../budget/request.js';
import { quote } from '../ffi/native.js';

/** What the spec says about GPUs, before the host's inventory is consulted. */
export interface GpuSpecFacts {
  /** NVIDIA_VISIBLE_DEVICES as the container's process has it; undefined: not set. */
  visible: string | undefined;
  /** Does something in this start turn that variable into devices (NVIDIA's hook, or NVIDIA's runtime below)? */
  visibleApplies: boolean;
  /** Minor numbers of the /dev/nvidia<N> nodes in linux.devices. */
  deviceMinors: number[];
}

export type ContainerGpus =
  /** No GPU: gpumem leaves it alone unless it asks for a limit. */
  | { kind: 'none' }
  /** Its GPUs, by UUID, in the container's order. */
  | { kind: 'known'; gpus: InventoryGpu[] }
  /** A GPU container whose GPUs cannot be told (no NVML on the host); `count` when the spec says how many. */
  | { kind: 'unknown'; count?: number; why: string };

/** Words of NVIDIA_VISIBLE_DEVICES that give no GPU. */
const NO_GPU = new Set(['', 'none', 'void']);

/** The /dev/nvidia<N> nodes (not nvidiactl, nvidia-uvm, nvidia-caps/...) of a spec's linux.devices. */
export function nvidiaDeviceMinors(devices: unknown): number[] {
  if (!Array.isArray(devices)) return [];
  const out: number[] = [];
  for (const d of devices as { path?: unknown; minor?: unknown }[]) {
    const m = typeof d?.path === 'string' ? /^\/dev\/nvidia(\d{1,4})$/.exec(d.path) : null;
    if (!m) continue;
    // The node's own minor when the spec gives it (CDI fills it from the host's node), else its name's.
    out.push(typeof d.minor === 'number' && Number.isInteger(d.minor) && d.minor >= 0 ? d.minor : Number(m[1]));
  }
  return out;
}

/** The names NVIDIA_VISIBLE_DEVICES lists; `all` and the no-GPU words as such. */
function visibleNames(visible: string): string[] | 'all' | 'none' {
  const v = visible.trim();
  if (NO_GPU.has(v)) return 'none';
  if (v === 'all') return 'all';
  return v.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

/** What the host lists by NVIDIA's names: an index ("1"), a MIG device of a GPU ("1:0"), a GPU or MIG UUID. */
function byName(name: string, host: readonly InventoryGpu[]): InventoryGpu | undefined {
  const gpus = host.filter((g) => !g.mig);
  if (/^\d+$/.test(name)) return gpus[Number(name)];
  const mig = /^(\d+):(\d+)$/.exec(name);
  if (mig) {
    const parent = gpus[Number(mig[1])];
    return parent && host.filter((g) => g.mig && g.parent === parent.index)[Number(mig[2])];
  }
  const lower = name.toLowerCase();
  return host.find((g) => g.uuid.toLowerCase() === lower);
}

/** "all": every whole GPU, and for a GPU in MIG mode its MIG devices instead (as NVIDIA's toolkit gives them). */
function everyGpu(host: readonly InventoryGpu[]): InventoryGpu[] {
  return host.filter((g) => (g.mig ? true : !host.some((m) => m.mig && m.parent === g.index)));
}

/** Whether the spec makes this a GPU container at all, without asking the host. */
export function looksLikeGpuContainer(f: GpuSpecFacts): boolean {
  const names = f.visible === undefined || !f.visibleApplies ? 'none' : visibleNames(f.visible);
  return names !== 'none' || f.deviceMinors.length > 0;
}

/**
 * The container's GPUs from the spec's facts and the host's inventory (undefined: no NVML).
 * Throws LimitError for a GPU the host does not have: NVIDIA's toolkit would refuse it too, and
 * a budget for it could not be kept.
 */
export function containerGpus(f: GpuSpecFacts, host: readonly InventoryGpu[] | undefined): ContainerGpus {
  const names = f.visible === undefined || !f.visibleApplies ? 'none' : visibleNames(f.visible);
  if (names === 'none' && f.deviceMinors.length === 0) return { kind: 'none' };
  if (!host) {
    const count = names === 'all' ? undefined : names === 'none' ? f.deviceMinors.length : new Set(names).size + f.deviceMinors.length;
    return { kind: 'unknown', ...(count === undefined ? {} : { count }), why: 'the host has no NVML to tell its GPUs' };
  }
  const picked = new Set<InventoryGpu>();
  if (names === 'all') everyGpu(host).forEach((g) => picked.add(g));
  else if (names !== 'none') {
    for (const name of names) {
      const g = byName(name, host);
      if (!g) {
        const whole = host.filter((x) => !x.mig);
        throw new LimitError(
          `gpumem: NVIDIA_VISIBLE_DEVICES names GPU ${quote(name)}, which this host does not have (it has ${whole.length} GPU${whole.length === 1 ? '' : 's'}: index 0-${whole.length - 1}, a UUID, or index:mig); name one of them`,
        );
      }
      picked.add(g);
    }
  }
  for (const minor of f.deviceMinors) {
    const g = host.find((x) => !x.mig && x.minor === minor);
    if (!g) throw new LimitError(`gpumem: the container is given /dev/nvidia${minor}, which is no GPU this host's NVML lists; check the CDI spec or --device`);
    // A GPU's node also comes with its MIG devices' CDI edits: the MIG device, if named, stands for it.
    if (![...picked].some((p) => p.mig && p.parent === g.index)) picked.add(g);
  }
  return { kind: 'known', gpus: host.filter((g) => picked.has(g)) };
}
