/** Finds a limited container's state directory from a full id or a unique prefix, as docker does. */
import { readdirSync } from 'node:fs';
import { stateRoot } from './layout.js';
import { stateDir, type StateDir } from './state.js';

export function limitedContainers(): string[] {
  try {
    return readdirSync(stateRoot(), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();
  } catch {
    return [];
  }
}

export function findContainer(idOrPrefix: string): { id: string; dir: StateDir } {
  const ids = limitedContainers();
  const exact = ids.find((i) => i === idOrPrefix);
  const matches = exact ? [exact] : ids.filter((i) => idOrPrefix.length > 0 && i.startsWith(idOrPrefix));
  if (matches.length === 0) throw new Error(`gpumem: no container limited by gpumem matches "${idOrPrefix}" (see gpumem ps)`);
  if (matches.length > 1) throw new Error(`gpumem: "${idOrPrefix}" matches ${matches.length} containers; give more of the id`);
  const id = matches[0] as string;
  return { id, dir: stateDir(id) };
}
