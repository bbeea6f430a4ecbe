/** Finds a limited container's state directory from what `docker update` takes: a full id, a name, or a unique id prefix. */
import { readdirSync } from 'node:fs';
import { containerId as dockerContainerId, type DockerLookup } from './docker/container-id.js';
import { quote } from './ffi/native.js';
import { reservedNames, stateRoot } from './layout.js';
import { stateDir, validContainerId, type StateDir } from './state.js';

/** The containers with state on this host; names that cannot be a container's (gpumem's own, or not an id) are no rows. */
export function limitedContainers(): string[] {
  const reserved = reservedNames();
  try {
    return readdirSync(stateRoot(), { withFileTypes: true })
      .filter((d) => d.isDirectory() && validContainerId(d.name) && !reserved.includes(d.name))
      .map((d) => d.name)
      .sort();
  } catch {
    return [];
  }
}

const found = (id: string): { id: string; dir: StateDir } => ({ id, dir: stateDir(id) });

/** By a full id or a unique prefix among the limited containers; throws a one-line error. */
export function findContainer(idOrPrefix: string, whyNotByName?: string): { id: string; dir: StateDir } {
  const ids = limitedContainers();
  const exact = ids.find((i) => i === idOrPrefix);
  const matches = exact ? [exact] : ids.filter((i) => idOrPrefix.length > 0 && i.startsWith(idOrPrefix));
  if (matches.length === 0) {
    throw new Error(`gpumem: no container limited by gpumem matches ${quote(idOrPrefix)}${whyNotByName ? ` (${whyNotByName})` : ''}; see gpumem ps`);
  }
  if (matches.length > 1) throw new Error(`gpumem: ${quote(idOrPrefix)} matches ${matches.length} containers; give more of the id`);
  return found(matches[0] as string);
}

/**
 * In docker's order: a full id, then what the engine makes of the reference (a name first, then
 * an id prefix), then a unique prefix among the limited containers (an engine gpumem's state
 * knows but this socket does not, or none at all). `lookup` is the engine (tests give another).
 */
export async function resolveContainer(
  reference: string,
  lookup: (reference: string) => Promise<DockerLookup> = dockerContainerId,
): Promise<{ id: string; dir: StateDir }> {
  if (limitedContainers().includes(reference)) return found(reference);
  const docker = await lookup(reference);
  if ('id' in docker) {
    if (limitedContainers().includes(docker.id)) return found(docker.id);
    throw new Error(
      `gpumem: container ${quote(reference)} (${docker.id.slice(0, 12)}) has no budget from gpumem (it was started without a gpumem.io/limit or GPUMEM_LIMIT, or not with the gpumem runtime); see gpumem ps`,
    );
  }
  const why = 'notFound' in docker ? `Docker: ${quote(docker.notFound)}` : `names unknown: ${docker.unreachable}`;
  return findContainer(reference, why);
}
