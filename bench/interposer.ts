/**
 * Allocation pairs natively vs under libgpumem.so: cuMemAlloc+cuMemFree reached through
 * cuGetProcAddress (the driver path), and cudaMalloc+cudaFree (the cudart path, built with nvcc).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appRoot, interposerPath, nativeBuild } from '../lib/paths.js';
import { paired, type Paired, type Progress } from './paired.js';

export interface InterposerCase {
  /** launch: cuLaunchKernel of one kernel (fake driver only), one launch a "pair". */
  path: 'driver' | 'cudart' | 'launch';
  size: number;
  pairs: number;
}

/** The cudart benchmark needs nvcc (a GPU machine); undefined when it cannot be built. */
export function cudartBench(): string | undefined {
  const out = join(nativeBuild(), 'bench', 'cudart-alloc-free-bench');
  if (existsSync(out)) return out;
  mkdirSync(join(nativeBuild(), 'bench'), { recursive: true });
  const r = spawnSync('nvcc', ['-O2', '-o', out, join(appRoot(), 'bench', 'gpu', 'cudart_pairs.cu')], { stdio: 'inherit' });
  return r.status === 0 ? out : undefined;
}

function nsPerPair(c: InterposerCase, env: NodeJS.ProcessEnv): number {
  const program = c.path === 'cudart' ? (cudartBench() as string) : join(nativeBuild(), 'bench', 'alloc-free-bench');
  const first = c.path === 'launch' ? 'launch' : String(c.size);
  const r = spawnSync(program, [first, String(c.pairs)], {
    env,
    encoding: 'utf8',
    cwd: appRoot(),
  });
  if (r.status !== 0) throw new Error(`${program} failed: ${r.stderr || r.error?.message}`);
  return (JSON.parse(r.stdout) as { ns_per_pair: number }).ns_per_pair;
}

/** `fake`: the test double (isolates the interposer's own cost); `real`: the host's libcuda.so.1. */
export function benchInterposer(c: InterposerCase, driver: 'fake' | 'real', rounds: number, progress: Progress): Paired {
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
