/** What a container asks for: its gpumem.io/ annotations, or GPUMEM_ variables where the engine has no annotations. */

import { constant, envLimits, maxGpus, NativeError, parseLimit as parseLimitValue, quote, quoteName } from '../ffi/native.js';
import type { Limit } from './types.js';

/** A limit as written: bytes, or a percent of the GPU's physical memory (parsed in C). */
export type { Limit };

export interface LimitRequest {
  /** Where the limits came from; annotations win over the environment. */
  source: 'annotation' | 'env';
  /** `gpumem.io/limit` / `GPUMEM_LIMIT`: for every GPU the container sees. */
  all?: Limit;
  /** `gpumem.io/limit.<i>` / `GPUMEM_LIMIT_<i>`: for the container's GPU number i. */
  perGpu: Map<number, Limit>;
  /** `gpumem.io/limit.<GPU-UUID>` (or a MIG device's UUID), keyed by the UUID as NVML writes it. */
  byUuid?: Map<string, Limit>;
}

/** Bad input from the container's spec; the message is the one line `docker run` shows. */
export class LimitError extends Error {
  override name = 'LimitError';
}

export const ANNOTATION_PREFIX = 'gpumem.io/';
const ANNOTATION_LIMIT = 'gpumem.io/limit';

/** The accepted values, as the C grammar's messages end (GPUMEM_LIMIT_HELP in native/src/format/limit.h). */
export const ACCEPTED_VALUES =
  'a size like 512m, 8g or 8GiB (a number with an optional unit b, k, m, g, t or p; binary multiples) or a percent of the GPU like 50%';
/** The annotation keys gpumem reads, as its messages name them. */
export const acceptedKeys = (): string => `${ANNOTATION_LIMIT}, ${ANNOTATION_LIMIT}.<GPU index 0-${maxGpus() - 1}> or ${ANNOTATION_LIMIT}.<GPU-UUID or MIG-UUID>`;

/** A message from the C grammar becomes the one line `docker run` shows. */
export function limitError(e: unknown): unknown {
  return e instanceof NativeError ? new LimitError(`gpumem: ${e.message}`) : e;
}

/** C reads a string up to its first NUL: "64m\0junk" would pass as 64m. No limit holds one. */
function refuseNul(what: string, value: string): void {
  if (value.includes('\0')) throw new LimitError(`gpumem: ${what}=${quote(value)} holds a NUL character, which no limit has; ${constant('limit_help')}`);
}

/** Values go through the C grammar: annotations and variables are judged alike, here and in the interposer. */
function parseLimit(what: string, value: string): Limit {
  refuseNul(what, value);
  try {
    return parseLimitValue(what, value);
  } catch (e) {
    throw limitError(e);
  }
}

/** "0".."63", no leading zero: one spelling per GPU, so two keys never name one GPU (as GPUMEM_LIMIT_<i> in C). */
function gpuIndex(text: string): number | undefined {
  if (!/^(0|[1-9]\d?)$/.test(text)) return undefined;
  const i = Number(text);
  return i < maxGpus() ? i : undefined;
}

/** The GPU index of a `gpumem.io/limit.<i>` key, or undefined for any other key. */
function perGpuIndex(key: string): number | undefined {
  return key.startsWith(ANNOTATION_LIMIT + '.') ? gpuIndex(key.slice(ANNOTATION_LIMIT.length + 1)) : undefined;
}

/** A GPU's or MIG device's UUID as NVML writes it (8-4-4-4-12 hex), the prefix upper case and the hex lower case; else undefined. */
export function canonicalUuid(text: string): string | undefined {
  const m = /^(GPU|MIG)-([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i.exec(text);
  return m ? `${(m[1] as string).toUpperCase()}-${(m[2] as string).toLowerCase()}` : undefined;
}

/** The UUID of a `gpumem.io/limit.<UUID>` key, or undefined. */
function perGpuUuid(key: string): string | undefined {
  return key.startsWith(ANNOTATION_LIMIT + '.') ? canonicalUuid(key.slice(ANNOTATION_LIMIT.length + 1)) : undefined;
}

/** Is this one of the annotation keys gpumem reads? */
export const isLimitAnnotation = (key: string): boolean =>
  key === ANNOTATION_LIMIT || perGpuIndex(key) !== undefined || perGpuUuid(key) !== undefined;

function fromAnnotations(annotations: Record<string, string>): LimitRequest | undefined {
  const keys = Object.keys(annotations).filter((k) => k.startsWith(ANNOTATION_PREFIX)).sort();
  if (keys.length === 0) return undefined;
  const req: LimitRequest = { source: 'annotation', perGpu: new Map() };
  for (const key of keys) {
    const value = annotations[key] ?? '';
    const what = `annotation ${quoteName(key)}`;
    if (key === ANNOTATION_LIMIT) {
      req.all = parseLimit(what, value);
      continue;
    }
    const uuid = perGpuUuid(key);
    if (uuid !== undefined) {
      req.byUuid ??= new Map();
      if (req.byUuid.has(uuid)) throw new LimitError(`gpumem: annotation ${quoteName(key)} names GPU ${uuid} a second time (UUIDs are the same in any case); give one`);
      req.byUuid.set(uuid, parseLimit(what, value));
      continue;
    }
    const i = perGpuIndex(key);
    if (i === undefined) throw new LimitError(`gpumem: unknown annotation ${quoteName(key)}; accepted: ${acceptedKeys()}`);
    req.perGpu.set(i, parseLimit(what, value));
  }
  return req;
}

/** Keys and values both read in C, by the very function the interposer runs on its own environment. */
function fromEnv(env: Record<string, string>): LimitRequest | undefined {
  // As for values: C would see "GPUMEM_LIMIT\0X=8g" as a string with no '=' and skip it.
  for (const [k, v] of Object.entries(env)) {
    if (k.startsWith('GPUMEM_')) refuseNul(`environment variable ${quoteName(k)}`, k.includes('\0') ? k : v);
  }
  let found;
  try {
    found = envLimits(Object.entries(env).map(([k, v]) => `${k}=${v}`));
  } catch (e) {
    throw limitError(e);
  }
  if (!found.found) return undefined;
  return { source: 'env', ...(found.all ? { all: found.all } : {}), perGpu: found.perGpu };
}

/** The container's request, or undefined when it asks for no limit. Throws LimitError on bad input. */
export function limitRequest(annotations: Record<string, string>, env: Record<string, string>): LimitRequest | undefined {
  return requests(annotations, env).request;
}

/**
 * The request, and the environment's own when annotations win over it: that one is still judged
 * (a typo such as GPUMEM_LIMITS, or a limit for a GPU the container lacks, must not pass
 * silently because an annotation was there too).
 */
export function requests(annotations: Record<string, string>, env: Record<string, string>): { request?: LimitRequest; shadowed?: LimitRequest } {
  const fromAnn = fromAnnotations(annotations);
  const fromVars = fromEnv(env);
  if (!fromAnn) return fromVars ? { request: fromVars } : {};
  return fromVars ? { request: fromAnn, shadowed: fromVars } : { request: fromAnn };
}

/** `KEY=value` strings of an OCI process env as a record (the last one wins, as in execve's users). */
export function envRecord(env: readonly string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of env ?? []) {
    const eq = kv.indexOf('=');
    if (eq > 0) out[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  return out;
}
