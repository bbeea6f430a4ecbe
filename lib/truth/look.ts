/** One look at every limited container: what its region says, read around what NVML shows its processes hold. */
import { accountingUsage, readConfig, type Usage } from '../ffi/native.js';
import { stateDir } from '../state.js';
import { readHostRecord } from './host-record.js';
import { containerTruth, hostView } from './host-view.js';
import type { Truth } from './judge.js';

export interface ContainerLook {
  id: string;
  /** Unset with error: a region or config the container (or a crash) left unreadable. */
  config?: ReturnType<typeof readConfig>;
  usage?: Usage;
  error?: string;
  /** The region's figure by the container's GPU index: the larger of its readings before and after NVML's. */
  region: Map<number, number>;
  /** What the host sees; null when it cannot tell (no NVML, no cgroup recorded). */
  truth: Truth | null;
}

function readRegion(id: string): Pick<ContainerLook, 'config' | 'usage' | 'error'> {
  const dir = stateDir(id);
  try {
    return { config: readConfig(dir.configFile), usage: accountingUsage(dir.accountingFile) };
  } catch (e) {
    // A container can scribble on its region: report it, keep listing the others.
    return { error: (e as Error).message };
  }
}

export function look(ids: readonly string[]): ContainerLook[] {
  const before = ids.map(readRegion);
  const view = ids.length > 0 ? hostView() : null;
  // Read again after NVML: an allocation charged meanwhile shows in NVML and in this reading.
  const after = view ? ids.map(readRegion) : before;
  return ids.map((id, i) => {
    const a = before[i] as ReturnType<typeof readRegion>;
    const b = after[i] as ReturnType<typeof readRegion>;
    const last = a.error && !b.error ? a : b; // an unreadable reading is reported
    const region = new Map<number, number>();
    for (const r of [a, b]) for (const [g, v] of r.usage?.usedPerGpu ?? []) region.set(g, Math.max(region.get(g) ?? 0, v));
    return { id, ...last, region, truth: view && !last.error ? containerTruth(view, readHostRecord(stateDir(id))) : null };
  });
}
