/**
 * Reads the host policy file at each decision (changes apply to the next start, no restart): a
 * missing file is the documented defaults; an unreadable or broken one is a PolicyError.
 */
import { readFileSync } from 'node:fs';
import { DEFAULT_POLICY, PolicyError, parsePolicy, type Policy } from './policy.js';

/** Where the operator writes it; GPUMEM_POLICY moves it for tests. */
export const policyFile = (): string => process.env.GPUMEM_POLICY ?? '/etc/gpumem/config.json';

export function loadPolicy(file = policyFile()): Policy {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return DEFAULT_POLICY;
    throw new PolicyError(`gpumem: policy ${file} cannot be read (${code ?? (e as Error).message}); make it readable by root, or remove it for the defaults`);
  }
  return parsePolicy(text, file);
}
