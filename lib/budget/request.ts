/** What a container asks for: its gpumem.io/ annotations, or GPUMEM_ variables where the engine has no annotations. */

/** A limit as written: bytes, or a percent of the GPU's physical memory. */
export type Limit = { bytes: number } | { percent: number };

export interface LimitRequest {
  /** Where the limits came from; annotations win over the environment. */
  source: 'annotation' | 'env';
  /** `gpumem.io/limit` / `GPUMEM_LIMIT`: for every GPU the container sees. */
  all?: Limit;
  /** `gpumem.io/limit.<i>` / `GPUMEM_LIMIT_<i>`: for the container's GPU number i. */
  perGpu: Map<number, Limit>;
}

/** Bad input from the container's spec; the message is the one line `docker run` shows. */
export class LimitError extends Error {
  override name = 'LimitError';
}

export const ANNOTATION_PREFIX = 'gpumem.io/';
const ANNOTATION_LIMIT = 'gpumem.io/limit';
const ENV_LIMIT = 'GPUMEM_LIMIT';
const MAX_GPU_INDEX = 63;

export const ACCEPTED_VALUES =
  'a size like 512m, 8g or 8GiB (a number with an optional unit b, k, m, g, t or p; binary multiples) or a percent of the GPU like 50%';
const ACCEPTED_KEYS = `${ANNOTATION_LIMIT} or ${ANNOTATION_LIMIT}.<GPU index 0-${MAX_GPU_INDEX}>`;

/** Parses a size in `docker run --memory` grammar; supplied by the caller (the C grammar, through FFI). */
export type SizeParser = (text: string) => number;

function parseLimit(what: string, value: string, parseSize: SizeParser): Limit {
  const v = value.trim();
  const pct = /^(\d+(?:\.\d+)?)\s*%$/.exec(v);
  if (pct) {
    const percent = Number(pct[1]);
    if (percent > 0 && percent <= 100) return { percent };
    throw new LimitError(`gpumem: ${what}="${value}" is out of range; a percent must be above 0 and at most 100`);
  }
  try {
    return { bytes: parseSize(v) };
  } catch {
    throw new LimitError(`gpumem: ${what}="${value}" is not a valid limit; use ${ACCEPTED_VALUES}`);
  }
}

function gpuIndex(text: string): number | undefined {
  if (!/^\d{1,2}$/.test(text)) return undefined;
  const i = Number(text);
  return i <= MAX_GPU_INDEX ? i : undefined;
}

function fromAnnotations(annotations: Record<string, string>, parseSize: SizeParser): LimitRequest | undefined {
  const keys = Object.keys(annotations).filter((k) => k.startsWith(ANNOTATION_PREFIX)).sort();
  if (keys.length === 0) return undefined;
  const req: LimitRequest = { source: 'annotation', perGpu: new Map() };
  for (const key of keys) {
    const value = annotations[key] ?? '';
    const what = `annotation ${key}`;
    if (key === ANNOTATION_LIMIT) {
      req.all = parseLimit(what, value, parseSize);
      continue;
    }
    const i = key.startsWith(ANNOTATION_LIMIT + '.') ? gpuIndex(key.slice(ANNOTATION_LIMIT.length + 1)) : undefined;
    if (i === undefined) throw new LimitError(`gpumem: unknown annotation ${key}; accepted: ${ACCEPTED_KEYS}`);
    req.perGpu.set(i, parseLimit(what, value, parseSize));
  }
  return req;
}

function fromEnv(env: Record<string, string>, parseSize: SizeParser): LimitRequest | undefined {
  const keys = Object.keys(env).filter((k) => k === ENV_LIMIT || k.startsWith(ENV_LIMIT + '_')).sort();
  if (keys.length === 0) return undefined;
  const req: LimitRequest = { source: 'env', perGpu: new Map() };
  for (const key of keys) {
    const value = env[key] ?? '';
    const what = `environment variable ${key}`;
    if (key === ENV_LIMIT) {
      req.all = parseLimit(what, value, parseSize);
      continue;
    }
    const i = gpuIndex(key.slice(ENV_LIMIT.length + 1));
    if (i === undefined) {
      throw new LimitError(`gpumem: unknown environment variable ${key}; accepted: ${ENV_LIMIT} or ${ENV_LIMIT}_<GPU index 0-${MAX_GPU_INDEX}>`);
    }
    req.perGpu.set(i, parseLimit(what, value, parseSize));
  }
  return req;
}

/** The container's request, or undefined when it asks for no limit. Throws LimitError on bad input. */
export function limitRequest(
  annotations: Record<string, string>,
  env: Record<string, string>,
  parseSize: SizeParser,
): LimitRequest | undefined {
  return fromAnnotations(annotations, parseSize) ?? fromEnv(env, parseSize);
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
