/**
 * Removes the state of containers that no longer exist: what a runtime shim killed during delete,
 * a runc that never ran its cleanup, or a dockerd restart can leave under the state root. Run at
 * each decision (and when the agent starts), so leftovers last until the next limited start.
 */
import { lstatSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { removeStateDir, stateDir } from './state.js';
import { limitedContainers } from './state-lookup.js';
import { readHostRecord, type HostRecord } from './truth/host-record.js';
import { log } from './log.js';

/** A state directory this young may belong to a create still between its decision and runc. */
export const SWEEP_GRACE_MS = 10_000;

export interface StateEntry {
  /** its host record; null when it has none (yet) or it cannot be read */
  record: HostRecord | null;
  /** since the record (else the directory) was written */
  ageMs: number;
  /** does <runtimeRoot>/<id> exist? null: the record names no root */
  runtimeKnows: boolean | null;
}

/** Why the entry is a leftover, or null to keep it. Anything unsure is kept. */
export function leftoverReason(e: StateEntry): string | null {
  if (e.ageMs < SWEEP_GRACE_MS) return null;
  if (!e.record) return 'its state was never completed';
  if (e.runtimeKnows === false) return `the lower runtime no longer knows it (${e.record.runtimeRoot} has no entry for it)`;
  return null; // known to runc, or no root recorded (runc's default, which gpumem cannot see)
}

const lstatOrNull = (path: string): Stats | null => {
  try {
    return lstatSync(path);
  } catch {
    return null;
  }
};

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'ENOENT'; // unreadable: assume it is there
  }
}

/** Looks at one container's state directory; null when it is gone meanwhile. */
function entryOf(name: string, now: number): StateEntry | null {
  const dir = stateDir(name);
  const st = lstatOrNull(dir.root);
  if (!st?.isDirectory()) return null;
  const record = readHostRecord(dir);
  const written = (record && lstatOrNull(dir.hostRecordFile)) || st;
  return {
    record,
    ageMs: now - written.mtimeMs,
    runtimeKnows: record?.runtimeRoot ? exists(join(record.runtimeRoot, name)) : null,
  };
}

/** Why the state of `name` (one of limitedContainers()) is a leftover of a container that no longer exists, or null. */
export function leftoverState(name: string, now = Date.now()): string | null {
  const entry = entryOf(name, now);
  return entry && leftoverReason(entry);
}

/** Removes every leftover; returns their ids. Never throws: a sweep must not fail a start. */
export function sweepLeftoverState(now = Date.now()): string[] {
  const removed: string[] = [];
  for (const name of limitedContainers()) {
    try {
      const why = leftoverState(name, now);
      if (!why) continue;
      removeStateDir(stateDir(name));
      removed.push(name);
      log().info({ container: name, outcome: 'removed' }, `state of a container that no longer exists removed: ${why}`);
    } catch (e) {
      log().warn({ container: name }, `could not look at or remove leftover state: ${(e as Error).message}`);
    }
  }
  return removed;
}
