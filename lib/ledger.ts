/**
 * The host's ledger of admitted budgets: the GPUs and budgets recorded in every container's host
 * record under the state root. A container's entry is born with its state and goes with it, so
 * what reconciles state (the delete path, the sweep) reconciles the ledger too.
 */
import { mkdirSync } from 'node:fs';
import { withHostLock } from './ffi/native.js';
import { ledgerLock, stateRoot } from './layout.js';
import type { LedgerEntry } from './budget/admission.js';
import { stateDir } from './state.js';
import { limitedContainers } from './state-lookup.js';
import { sweepLeftoverState } from './state-sweep.js';
import { readHostRecord } from './truth/host-record.js';

/** Every admitted budget, but those of `except` (a container whose budget is being changed). */
export function ledgerEntries(except?: string): LedgerEntry[] {
  const out: LedgerEntry[] = [];
  for (const id of limitedContainers()) {
    if (id === except) continue;
    const record = readHostRecord(stateDir(id));
    for (const g of record?.gpus ?? []) if (g.bytes !== null) out.push({ container: id, uuid: g.uuid, bytes: BigInt(g.bytes) });
  }
  return out;
}

/**
 * Runs an admission decision alone on the host (the agent and in-process decisions alike, through
 * a lock the kernel drops if its holder dies), after the leftovers of containers that no longer
 * exist are swept away: fn reads the ledger and writes its entry before anyone else reads it.
 */
export function admitting<T>(fn: () => T): T {
  mkdirSync(stateRoot(), { recursive: true, mode: 0o755 });
  return withHostLock(ledgerLock(), () => {
    sweepLeftoverState();
    return fn();
  });
}
