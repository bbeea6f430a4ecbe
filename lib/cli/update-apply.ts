/** Changes running containers' budgets all or none: a failure part-way puts back what was already changed. */
import { bumpGeneration, writeConfig, type InterposerConfig } from '../ffi/native.js';
import type { StateDir } from '../state.js';

export interface Change {
  id: string;
  dir: StateDir;
  before: InterposerConfig;
  after: InterposerConfig;
}

/** The two steps of a change: the config (an atomic rename, in C), then the generation its processes watch. */
export interface UpdateSteps {
  write: (dir: StateDir, config: InterposerConfig) => void;
  bump: (dir: StateDir) => void;
}

export const realSteps: UpdateSteps = {
  write: (dir, config) => writeConfig(dir.configFile, config),
  bump: (dir) => bumpGeneration(dir.accountingFile),
};

/**
 * Every change or none. Each container's config and region were read and checked before; a
 * failure part-way still happens (a region the container rewrites meanwhile), and then the
 * budgets already changed are put back and their processes told, and the failing container's
 * config is put back (its processes were not told: nothing to undo there).
 */
export function applyAll(changes: readonly Change[], steps: UpdateSteps = realSteps): void {
  for (const [k, c] of changes.entries()) {
    try {
      steps.write(c.dir, c.after);
      steps.bump(c.dir);
    } catch (e) {
      const stuck: string[] = [];
      const undo = (d: Change, tell: boolean): void => {
        try {
          steps.write(d.dir, d.before);
          if (tell) steps.bump(d.dir);
        } catch {
          stuck.push(d.id.slice(0, 12));
        }
      };
      undo(c, false);
      for (const d of changes.slice(0, k)) undo(d, true);
      const reason = (e as Error).message.replace(/^gpumem: /, '');
      throw new Error(
        stuck.length === 0
          ? `gpumem: ${c.id.slice(0, 12)}: ${reason}; nothing was changed`
          : `gpumem: ${c.id.slice(0, 12)}: ${reason}; and the old budget could not be put back for ${stuck.join(', ')}`,
      );
    }
  }
}
