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

/** Puts the interposer first in the process's LD_PRELOAD, keeping what the image had there. */
export function preloadVariable(library: string): SpecModifier {
  return {
    name: 'preload-variable',
    modify(spec) {
      const env = (spec.process ??= {}).env ?? [];
      const at = env.findIndex((e) => e.startsWith('LD_PRELOAD='));
      const had = at < 0 ? [] : (env[at] as string).slice('LD_PRELOAD='.length).split(/[: ]/).filter((p) => p && p !== library);
      const value = `LD_PRELOAD=${[library, ...had].join(':')}`;
      spec.process.env = at < 0 ? [...env, value] : env.map((e, i) => (i === at ? value : e));
    },
  };
}

/** Takes a capability out of every set of the process (bounding too, so no child regains it). */
export function withoutCapability(name: string): SpecModifier {
  return {
    name: `without-${name}`,
    modify(spec) {
      const caps = spec.process?.capabilities as Record<string, unknown> | undefined;
      if (!caps) return;
      for (const [set, list] of Object.entries(caps)) {
        if (Array.isArray(list)) caps[set] = list.filter((c) => c !== name);
      }
    },
  };
}

export function applyModifiers(spec: Spec, modifiers: readonly SpecModifier[]): void {
  for (const m of modifiers) m.modify(spec);
}
