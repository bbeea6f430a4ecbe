/** `gpumem update CONTAINER --limit 8g`: change a running container's GPU memory budget, like docker update. */
import type { Argv } from 'yargs';
import { maxGpus, parseSize, readConfig, updateBudget } from '../ffi/native.js';
import { ACCEPTED_VALUES } from '../budget/request.js';
import { findContainer } from '../state-lookup.js';
import { log } from '../log.js';

function bytes(what: string, value: string): number {
  try {
    return parseSize(value);
  } catch {
    throw new Error(`gpumem: ${what}="${value}" is not a valid size; use ${ACCEPTED_VALUES.replace(/ or a percent.*$/, '')}`);
  }
}

export function updateCommand(y: Argv): Argv {
  return y.command(
    'update <container..>',
    "change running containers' GPU memory budgets (applies from their next allocation)",
    (c) =>
      c
        .positional('container', { type: 'string', array: true, demandOption: true, describe: 'container id or unique prefix' })
        .option('limit', { type: 'string', describe: 'new budget for every GPU, e.g. 8g' })
        .option('gpu-limit', { type: 'string', array: true, describe: 'new budget for one GPU, INDEX=SIZE, e.g. 1=4g (repeatable)' }),
    (a) => {
      if (a.limit === undefined && !a['gpu-limit']?.length) throw new Error('gpumem: update needs --limit SIZE or --gpu-limit INDEX=SIZE');
      const all = a.limit === undefined ? undefined : bytes('--limit', a.limit);
      const perGpu = new Map<number, number>();
      for (const g of a['gpu-limit'] ?? []) {
        const m = /^(\d{1,2})=(.+)$/.exec(g);
        if (!m || Number(m[1]) >= maxGpus()) throw new Error(`gpumem: --gpu-limit "${g}" is not INDEX=SIZE with INDEX 0-${maxGpus() - 1}, e.g. 1=4g`);
        perGpu.set(Number(m[1]), bytes(`--gpu-limit ${m[1]}`, m[2] as string));
      }
      // Resolve every name first: an ambiguous one must not leave the others half-updated.
      const targets = (a.container as string[]).map(findContainer);
      for (const { id, dir } of targets) {
        const current = readConfig(dir.configFile);
        const next = { all: all ?? current.all, perGpu: new Map([...current.perGpu, ...perGpu]) };
        updateBudget(dir.configFile, dir.accountingFile, next);
        log().info({ container: id, limit: next.all, perGpu: Object.fromEntries(next.perGpu) }, 'budget updated');
        process.stdout.write(id + '\n');
      }
    },
  );
}
