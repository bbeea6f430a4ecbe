/** A PyTorch training loop's throughput natively vs under libgpumem.so (needs a GPU and PyTorch). */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appRoot, interposerPath } from '../lib/paths.js';
import { paired, type Paired, type Progress } from './paired.js';

function stepsPerSecond(env: NodeJS.ProcessEnv, steps: number): number {
  const r = spawnSync('python3', [join(appRoot(), 'bench', 'gpu', 'train_loop.py'), String(steps)], { env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`train_loop.py failed: ${r.stderr.slice(-500)}`);
  return (JSON.parse(r.stdout.trim().split('\n').pop() as string) as { steps_per_s: number }).steps_per_s;
}

export function benchTraining(rounds: number, steps: number, progress: Progress): Paired {
  const state = mkdtempSync(join(tmpdir(), 'gpumem-bench-'));
  const base: NodeJS.ProcessEnv = { ...process.env };
  delete base.LD_PRELOAD;
  try {
    const interposed = { ...base, LD_PRELOAD: interposerPath(), GPUMEM_LIMIT: '64g', GPUMEM_STATE_DIR: state };
    return paired(rounds, () => stepsPerSecond(base, steps), () => stepsPerSecond(interposed, steps), progress);
  } finally {
    rmSync(state, { recursive: true, force: true });
  }
}
