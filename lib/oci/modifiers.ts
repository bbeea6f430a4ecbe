/** Small, idempotent edits of a spec, composed by the shim: each adds what gpumem needs once. */
import type { Mount, Spec } from './spec.js';

export interface SpecModifier {
  readonly name: string;
  modify(spec: Spec): void;
}

/** Read-only bind of a host file or directory (runc performs it: the host never opens container paths). */
export const readOnlyBind = (source: string, destination: string): Mount => ({
  destination,
  type: 'bind',
  source,
  options: ['rbind', 'ro', 'nosuid', 'nodev'],
});

export const readWriteBind = (source: string, destination: string): Mount => ({
  destination,
  type: 'bind',
  source,
  options: ['rbind', 'rw', 'nosuid', 'nodev', 'noexec'],
});

/** Adds the mounts, replacing any earlier mount at the same destination (so a re-run changes nothing). */
export function bindMounts(mounts: readonly Mount[]): SpecModifier {
  return {
    name: 'mounts',
    modify(spec) {
      const dests = new Set(mounts.map((m) => m.destination));
      spec.mounts = [...(spec.mounts ?? []).filter((m) => !dests.has(m.destination)), ...mounts];
    },
  };
}

export function applyModifiers(spec: Spec, modifiers: readonly SpecModifier[]): void {
  for (const m of modifiers) m.modify(spec);
}
