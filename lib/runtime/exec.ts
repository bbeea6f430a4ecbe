/**
 * `gpumem-runtime exec --process FILE ID` for a limited container: its process file gets the same
 * edits as the main process (process-edits.ts), since Docker builds an exec'd process from its own
 * config, not from the spec gpumem edited. A container gpumem does not limit is left alone.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { writeFileAtomic } from '../atomic-write.js';
import { applyModifiers } from '../oci/modifiers.js';
import type { Spec } from '../oci/spec.js';
import { stateDir } from '../state.js';
import { processEdits } from './process-edits.js';
import type { RuntimeArgs } from './runc-args.js';

/** True when the process file was edited; throws (with one line) when it cannot be. */
export function prepareExec(args: RuntimeArgs, cwd: string): boolean {
  if (!args.containerId || !existsSync(stateDir(args.containerId).root)) return false;
  if (!args.process) return false; // `runc exec ID CMD...` by hand: the preload list still applies
  const path = resolve(cwd, args.process);
  let process: unknown;
  try {
    process = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`gpumem: cannot read the exec process ${path}: ${(e as Error).message}`);
  }
  if (typeof process !== 'object' || process === null || Array.isArray(process)) {
    throw new Error(`gpumem: the exec process ${path} is not a JSON object`);
  }
  const spec: Spec = { process: process as Spec['process'] };
  applyModifiers(spec, processEdits());
  writeFileAtomic(path, JSON.stringify(spec.process), undefined, { durable: false });
  return true;
}
