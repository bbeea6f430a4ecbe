/** One scrape's reading of the host: every limited container's budgets and use, read fresh (what `gpumem ps` reads). */
import { limitedContainers } from '../state-lookup.js';
import { leftoverState } from '../state-sweep.js';
import { stateDir } from '../state.js';
import { readHostRecord } from '../truth/host-record.js';
import { look } from '../truth/look.js';
import { dockerNames } from './docker-names.js';
import { samplesOf, type GpuSample } from './samples.js';

export interface Reading {
  /** Limited containers that still exist (a leftover's state is no container's). */
  containers: number;
  samples: GpuSample[];
  /** Containers whose config or region could not be read: each is missing from this scrape's series. */
  unreadable: { container: string; error: string }[];
}

export async function takeReading(): Promise<Reading> {
  const ids = limitedContainers().filter((id) => leftoverState(id) === null);
  const names = await dockerNames(ids);
  const looks = look(ids);
  return {
    containers: ids.length,
    samples: looks.flatMap((c) => samplesOf({ look: c, record: readHostRecord(stateDir(c.id)), name: names.get(c.id) ?? '' })),
    unreadable: looks.flatMap((c) => (c.error ? [{ container: c.id, error: c.error }] : [])),
  };
}
