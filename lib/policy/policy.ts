/**
 * The host policy, read from the text of /etc/gpumem/config.json: every field checked against
 * the schema (schema.ts), sizes in the C grammar; anything wrong is one line naming the file, the
 * field and what it accepts. Pure: the file's I/O is in load.ts.
 */
import { parseLimit, quote } from '../ffi/native.js';
import type { Limit } from '../budget/types.js';
import { FIELDS, accepted, type Field, type LOG_LEVELS } from './schema.js';

export interface Policy {
  defaultLimit?: Limit;
  maxLimit?: Limit;
  reservePerGpu?: Limit;
  overcommit: 'deny' | 'allow';
  envLimit: 'allow' | 'lower' | 'ignore';
  logLevel: (typeof LOG_LEVELS)[number];
  logFile: string;
}

export class PolicyError extends Error {}

/** What a missing file means: the documented defaults, no budget for containers that ask for none. */
export const DEFAULT_POLICY: Policy = Object.freeze({
  ...(Object.fromEntries(FIELDS.filter((f) => f.default !== undefined).map((f) => [f.name, f.default])) as Pick<
    Policy,
    'overcommit' | 'envLimit' | 'logLevel' | 'logFile'
  >),
});

const shown = (v: unknown): string => (typeof v === 'string' ? quote(v) : JSON.stringify(v) ?? String(v));

function fieldValue(file: string, f: Field, v: unknown): unknown {
  const wrong = (): PolicyError => new PolicyError(`gpumem: policy ${file}: ${f.name} is ${shown(v)}; use ${accepted(f)}`);
  if (typeof v !== 'string') throw wrong();
  switch (f.type.kind) {
    case 'limit':
      try {
        return parseLimit(`gpumem: policy ${file}: ${f.name}`, v);
      } catch (e) {
        throw new PolicyError((e as Error).message);
      }
    case 'choice':
      if (!f.type.choices.includes(v)) throw wrong();
      return v;
    case 'path':
      if (!v.startsWith('/') || v.includes('\0')) throw wrong();
      return v;
  }
}

/** The policy in the file's text; throws PolicyError (one line) on anything it does not accept. */
export function parsePolicy(text: string, file: string): Policy {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new PolicyError(`gpumem: policy ${file} is not valid JSON (${(e as Error).message}); fix it, or remove the file for the defaults`);
  }
  if (!data || typeof data !== 'object' || Array.isArray(data)) {
    throw new PolicyError(`gpumem: policy ${file} must hold one JSON object such as {"defaultLimit": "8g"}, not ${shown(data)}`);
  }
  const out: Record<string, unknown> = { ...DEFAULT_POLICY };
  for (const [key, v] of Object.entries(data)) {
    const f = FIELDS.find((x) => x.name === key);
    if (!f) {
      // A mistyped key must not pass as a policy without it: refused, with the near miss named.
      const near = FIELDS.find((x) => x.name.toLowerCase() === key.trim().toLowerCase());
      throw new PolicyError(
        `gpumem: policy ${file}: unknown field ${quote(key)}${near ? ` (did you mean "${near.name}"?)` : ''}; the fields are ${FIELDS.map((x) => x.name).join(', ')}`,
      );
    }
    out[key] = fieldValue(file, f, v);
  }
  const p = out as unknown as Policy;
  // Comparable without knowing the GPU only in the same unit; a size against a percent waits for the GPU.
  const [d, m] = [p.defaultLimit, p.maxLimit];
  const larger = d && m && ('bytes' in d && 'bytes' in m ? d.bytes > m.bytes : 'percent' in d && 'percent' in m && d.percent > m.percent);
  if (larger) {
    const given = data as Record<string, string>;
    throw new PolicyError(`gpumem: policy ${file}: defaultLimit ${quote(given.defaultLimit!)} is larger than maxLimit ${quote(given.maxLimit!)}`);
  }
  return p;
}
