/** cuMemAlloc+cuMemFree pairs, native vs under libgpumem.so, through cuGetProcAddress as cudart reaches them. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appRoot, interposerPath, nativeBuild } from '../lib/paths.js';
import { paired, type Paired } from './paired.js';

export interface InterposerCase {
  size: number;
  pairs: number;
}

function nsPerPair(c: InterposerCase, env: NodeJS.ProcessEnv): number {
  const r = spawnSync(join(nativeBuild(), 'bench', 'alloc-free-bench'), [String(c.size), String(c.pairs)], {
    env,
    encoding: 'utf8',
    cwd: appRoot(),
  });
  if (r.status !== 0) throw new Error(`alloc-free-bench failed: ${r.stderr || r.error?.message}`);
  return (JSON.parse(r.stdout) as { ns_per_pair: number }).ns_per_pair;
}

/** `fake`: the test double (isolates the interposer's own cost); `real`: the host's libcuda.so.1. */
export function benchInterposer(c: InterposerCase, driver: 'fake' | 'real', rounds: number, progress: (i: number) => void): Paired {
  const base: NodeJS.ProcessEnv = { ...process.env };
  delete base.LD_PRELOAD;
  if (driver === 'fake') base.LD_LIBRARY_PATH = join(nativeBuild(), 'fake');
  const state = mkdtempSync(join(tmpdir(), 'gpumem-bench-'));
  try {
    // A budget far above what the pairs use: the interposer does its full accounting every call.
    const interposed = { ...base, LD_PRELOAD: interposerPath(), GPUMEM_LIMIT: '64g', GPUMEM_STATE_DIR: state };
    return paired(rounds, () => nsPerPair(c, base), () => nsPerPair(c, interposed), progress);
  } finally {
    rmSync(state, { recursive: true, force: true });
  }
}
