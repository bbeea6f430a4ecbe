/** Small, idempotent edits of a spec, composed by the shim: each adds what gpumem needs once. */
import type { Hook, Mount, Spec } from './spec.js';

export interface SpecModifier {
  readonly name: string;
  modify(spec: Spec): void;
}

const sameHook = (a: Hook, b: Hook): boolean => a.path === b.path && JSON.stringify(a.args) === JSON.stringify(b.args);

/** Runs `hookPath prestart` before the container starts and `hookPath poststop` after it is deleted. */
export function gpumemHooks(hookPath: string): SpecModifier {
  return {
    name: 'hooks',
    modify(spec) {
      spec.hooks ??= {};
      for (const stage of ['prestart', 'poststop'] as const) {
        const hook: Hook = { path: hookPath, args: ['gpumem-hook', stage] };
        const list = (spec.hooks[stage] ??= []);
        if (!list.some((h) => sameHook(h, hook))) list.push(hook);
      }
    },
  };
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
