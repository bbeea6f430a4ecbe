/**
 * gpumem's namespace in a container's spec: every annotation key starting with `gpumem.io/` in
 * any case, and every variable starting with `GPUMEM_`. A key there that gpumem does not
 * understand is refused, never ignored (a mistyped key must not leave a container unlimited);
 * a near miss outside it is worth a warning in the decision log.
 */
import { maxGpus, quote, quoteName } from '../ffi/native.js';
import { ANNOTATION_PREFIX, acceptedKeys, isLimitAnnotation, LimitError } from './request.js';

const LIMIT_VARIABLE = /^GPUMEM_LIMIT/; // the C grammar judges the rest of these (gpumem_limit_env)
/** Variables the interposer reads that only the host may set: from a container they would point it elsewhere. */
const HOST_ONLY = new Set(['GPUMEM_STATE_DIR']);

const acceptedAnnotations = (): string => `${acceptedKeys()} (lower case)`;
const acceptedVariables = (): string => `GPUMEM_LIMIT or GPUMEM_LIMIT_<GPU index 0-${maxGpus() - 1}>`;

/** Refuses what is in gpumem's namespace and not understood; returns the near misses to warn about. */
export function checkNamespace(annotations: Record<string, string>, env: Record<string, string>): string[] {
  const warnings: string[] = [];
  for (const key of Object.keys(annotations).sort()) {
    if (key.toLowerCase().startsWith(ANNOTATION_PREFIX)) {
      if (!isLimitAnnotation(key)) throw new LimitError(`gpumem: unknown annotation ${quoteName(key)}; accepted: ${acceptedAnnotations()}`);
    } else if (/gpumem/i.test(key)) {
      warnings.push(`annotation ${quote(key)} looks like gpumem's but is not read (gpumem reads ${acceptedAnnotations()})`);
    }
  }
  for (const key of Object.keys(env).sort()) {
    if (key.startsWith('GPUMEM_')) {
      if (HOST_ONLY.has(key)) {
        throw new LimitError(`gpumem: environment variable ${key} may only be set by the host, not in a container; remove it (limits: ${acceptedVariables()})`);
      }
      if (!LIMIT_VARIABLE.test(key)) throw new LimitError(`gpumem: unknown environment variable ${quoteName(key)}; accepted: ${acceptedVariables()}`);
    } else if (/^gpumem/i.test(key)) {
      warnings.push(`environment variable ${quoteName(key)} looks like gpumem's but is not read (gpumem reads ${acceptedVariables()})`);
    }
  }
  return warnings;
}
