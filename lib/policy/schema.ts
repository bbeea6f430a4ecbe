/**
 * The host policy file's fields (/etc/gpumem/config.json), defined once: what each accepts, its
 * default, and what it means. The validator (policy.ts) and docs/policy.md follow this table.
 */

export type FieldKind =
  | { kind: 'limit' } // a size in `docker run -m` grammar, or a percent of the GPU
  | { kind: 'choice'; choices: readonly string[] }
  | { kind: 'path' }; // absolute

export interface Field {
  name: string;
  type: FieldKind;
  /** absent: no default (the field's feature is off) */
  default?: string;
  meaning: string;
  example: string;
}

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

export const FIELDS: readonly Field[] = [
  { name: 'defaultLimit', type: { kind: 'limit' }, meaning: 'budget of a GPU container that asks for none', example: '8g' },
  { name: 'maxLimit', type: { kind: 'limit' }, meaning: 'the largest budget a container may have: a larger request is refused, naming both; a GPU container that asks for none and has no defaultLimit gets this', example: '16g' },
  { name: 'reservePerGpu', type: { kind: 'limit' }, meaning: 'memory kept back on every GPU (a percent: of that GPU), never admitted to budgets', example: '4g' },
  { name: 'overcommit', type: { kind: 'choice', choices: ['deny', 'allow'] }, default: 'deny', meaning: 'whether the budgets admitted on a GPU together may exceed what it has (less the reserve)', example: 'deny' },
  { name: 'envLimit', type: { kind: 'choice', choices: ['allow', 'lower', 'ignore'] }, default: 'allow', meaning: 'GPUMEM_LIMIT* variables (which an image can bake in): allowed, allowed only to lower the budget, or ignored', example: 'lower' },
  { name: 'logLevel', type: { kind: 'choice', choices: LOG_LEVELS }, default: 'info', meaning: "the decision log's level (pino)", example: 'info' },
  { name: 'logFile', type: { kind: 'path' }, default: '/var/log/gpumem.log', meaning: 'where the decision log goes', example: '/var/log/gpumem.log' },
];

/** How a field's accepted values are said in a message. */
export function accepted(f: Field): string {
  switch (f.type.kind) {
    case 'limit':
      return 'a size as docker run -m takes it ("8g", "512MiB") or a percent of the GPU ("50%"), as a JSON string';
    case 'choice':
      return f.type.choices.map((c) => `"${c}"`).join(', ').replace(/, ([^,]*)$/, ' or $1');
    case 'path':
      return 'an absolute path, as a JSON string';
  }
}
