/** The lower runtime gpumem-runtime chains to, as install.sh wrote it in $PREFIX/etc/gpumem-runtime.conf. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { appRoot } from '../paths.js';

let cached: string | null | undefined;

/** Its path, or null when unknown (a source checkout, or no settings file). */
export function lowerRuntime(): string | null {
  if (cached !== undefined) return cached;
  cached = null;
  try {
    // appRoot() is $PREFIX/lib/gpumem once installed.
    const text = readFileSync(join(appRoot(), '..', '..', 'etc', 'gpumem-runtime.conf'), 'utf8');
    const line = text.split('\n').find((l) => l.startsWith('lower '));
    if (line) cached = line.slice(6).trim() || null;
  } catch {
    // not installed: runc's behaviour assumed
  }
  return cached;
}
