/** Loads and saves a bundle's config.json as raw JSON, so fields this code does not know survive. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../atomic-write.js';

export interface Hook {
  path: string;
  args?: string[];
  env?: string[];
  timeout?: number;
}

export interface Mount {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
}

/** The parts of an OCI runtime spec gpumem reads or edits; everything else rides along untouched. */
export interface Spec {
  process?: { env?: string[]; [k: string]: unknown };
  mounts?: Mount[];
  hooks?: { prestart?: Hook[]; poststop?: Hook[]; [k: string]: Hook[] | undefined };
  annotations?: Record<string, string>;
  [k: string]: unknown;
}

export const specPath = (bundle: string): string => join(bundle, 'config.json');

export function loadSpec(bundle: string): Spec {
  const path = specPath(bundle);
  const spec: unknown = JSON.parse(readFileSync(path, 'utf8'));
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) {
    throw new Error(`gpumem: ${path} is not an OCI runtime spec (not a JSON object)`);
  }
  return spec as Spec;
}

export function saveSpec(bundle: string, spec: Spec): void {
  // The bundle lives as long as the container: atomic for runc, no fsync needed.
  writeFileAtomic(specPath(bundle), JSON.stringify(spec), undefined, { durable: false });
}
