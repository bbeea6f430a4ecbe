/** `gpumem update CONTAINER... --limit 8g`: change running containers' GPU memory budgets, like docker update; all of them or none. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Argv } from 'yargs';
import { accountingGeneration, maxGpus, parseLimit, quote, readBudgets } from '../ffi/native.js';
import { ACCEPTED_VALUES, limitError } from '../budget/request.js';
import { resolveContainer } from '../state-lookup.js';
import { applyAll, type Change } from './update-apply.js';
import { admit, type LedgerEntry } from '../budget/admission.js';
import type { GpuBudget } from '../budget/plan.js';
import { hostInventory } from '../gpu/inventory.js';
import { admitting, ledgerEntries } from '../ledger.js';
import { applyKernelLimit } from '../kernel-limit.js';
import { relative } from '../layout.js';
import { loadPolicy, policyFile } from '../policy/load.js';
import { readHostRecord, rewriteHostRecord } from '../truth/host-record.js';
import { log } from '../log.js';

/** What update takes: the annotations' sizes; a percent needs the GPUs' sizes, which a running container's state does not keep. */
const SIZES = ACCEPTED_VALUES.replace(/ or a percent.*$/, '');

/** A value read by the annotations' own grammar (the C one), so what one accepts the other does. */
function bytes(what: string, value: string): bigint {
  const percent = new Error(`gpumem: ${what}=${quote(value)} is a percent; gpumem update takes ${SIZES}`);
  let limit;
  try {
    limit = parseLimit(what, value);
  } catch (e) {
    if (value.endsWith('%')) throw percent;
    throw new Error((limitError(e) as Error).message.replace(ACCEPTED_VALUES, SIZES));
  }
  if ('bytes' in limit) return limit.bytes;
  throw percent;
}

/** One --gpu-limit: the container's GPU by its index, or by its UUID (GPU-... or MIG-...) as nvidia-smi -L prints it. */
interface GpuLimit {
  gpu: number | string;
  bytes: bigint;
}

/** A --gpu-limit's GPU as this container's index: a UUID must be one of the GPUs it was given. */
function indexOf(gpu: number | string, uuids: ReadonlyMap<number, string> | undefined): number {
  if (typeof gpu === 'number') return gpu;
  for (const [i, u] of uuids ?? []) if (u.toLowerCase() === gpu.toLowerCase()) return i;
  const has = [...(uuids ?? [])].map(([i, u]) => `${i} ${u}`).join(', ');
  throw new Error(`gpumem: it has no GPU ${gpu} (${has ? `its GPUs: ${has}` : 'its GPUs are not known by UUID: give the index'})`);
}

/** The change for one container, from its config and region as they are now; throws saying nothing was changed. */
function planChange(id: string, dir: Change['dir'], all: bigint | undefined, gpuLimits: readonly GpuLimit[]): Change {
  try {
    const before = readBudgets(dir.configFile);
    const perGpu = new Map(gpuLimits.map((g) => [indexOf(g.gpu, before.uuids), g.bytes] as const));
    accountingGeneration(dir.accountingFile); // the region is checked as the bump will find it
    // --limit is every GPU's new budget: per-GPU ones it replaces (GPUs known by UUID have only those).
    const known = before.uuids !== undefined && before.uuids.size > 0;
    const base = all === undefined ? before.perGpu : new Map(known ? [...before.uuids!.keys()].map((i) => [i, all] as const) : []);
    const nextAll = known ? undefined : all ?? before.all;
    // The container's GPUs stay its GPUs: its processes refuse everything if the uuid lines change.
    const after = {
      ...(nextAll === undefined ? {} : { all: nextAll }),
      perGpu: new Map([...base, ...perGpu]),
      ...(before.uuids ? { uuids: before.uuids } : {}),
    };
    return { id, dir, before, after };
  } catch (e) {
    throw new Error(`gpumem: ${id.slice(0, 12)}: ${(e as Error).message.replace(/^gpumem: /, '')}; nothing was changed`);
  }
}

/** One value of an option yargs may have collected several times. */
function once(name: string, v: string | string[] | undefined): string | undefined {
  if (!Array.isArray(v)) return v;
  if (v.length === 1) return v[0];
  throw new Error(`gpumem: --${name} is given ${v.length} times; give it once (per GPU: --gpu-limit GPU=SIZE)`);
}

export function updateCommand(y: Argv): Argv {
  return y.command(
    'update <container..>',
    "change running containers' GPU memory budgets (applies from their next allocation); all of them or none",
    (c) =>
      c
        .positional('container', { type: 'string', array: true, demandOption: true, describe: 'container name, id or unique id prefix' })
        // nargs 1: the next word is the value even when it starts with a dash (--limit -64m), so
        // that gpumem, not the option parser, says what is wrong with it.
        .option('limit', { type: 'string', nargs: 1, describe: 'new budget for every GPU, e.g. 8g' })
        .option('gpu-limit', { type: 'string', array: true, nargs: 1, describe: "new budget for one GPU, GPU=SIZE with GPU the container's index or the GPU's UUID, e.g. 1=4g (repeatable)" })
        .example('gpumem update trainer --limit 8g', 'every GPU of the container "trainer": 8 GiB')
        .example('gpumem update trainer --gpu-limit 1=4g', 'its GPU 1 (as gpumem ps numbers them): 4 GiB, the others as they were')
        .example('gpumem update trainer --gpu-limit GPU-4f2e91ab-...=4g', 'the GPU with that UUID (gpumem ps --no-trunc shows them)')
        .epilogue('Exit status: 0 when every container was changed (their ids are printed), 1 when none was (one line on stderr).'),
    async (a) => {
      try {
        const limit = once('limit', a.limit as string | string[] | undefined);
        if (limit === undefined && !a['gpu-limit']?.length) throw new Error('gpumem: update needs --limit SIZE or --gpu-limit GPU=SIZE');
        const all = limit === undefined ? undefined : bytes('--limit', limit);
        const gpuLimits: GpuLimit[] = [];
        for (const g of a['gpu-limit'] ?? []) {
          const m = /^(?:(\d{1,2})|((?:GPU|MIG)-[0-9a-f][0-9a-f-]*))=(.*)$/is.exec(g);
          if (!m || Number(m[1] ?? 0) >= maxGpus()) throw new Error(`gpumem: --gpu-limit ${quote(g)} is not GPU=SIZE with GPU an index 0-${maxGpus() - 1} or a GPU-/MIG- UUID, e.g. 1=4g`);
          const gpu = m[1] !== undefined ? Number(m[1]) : (m[2] as string);
          gpuLimits.push({ gpu, bytes: bytes(`--gpu-limit ${gpu}`, m[3] as string) });
        }
        // Everything is found and read before anything is written.
        const changes: Change[] = [];
        for (const ref of a.container as string[]) {
          const { id, dir } = await resolveContainer(ref);
          if (!changes.some((c) => c.id === id)) changes.push(planChange(id, dir, all, gpuLimits));
        }
        admitting(() => {
          admitChanges(changes);
          applyAll(changes);
          for (const c of changes) recordBudgets(c);
        });
        // The kernel's own limit (R615+) follows the new budget, where it was set at start.
        for (const c of changes) {
          if (!existsSync(join(c.dir.root, relative.kernelLimitMarker()))) continue;
          const k = applyKernelLimit('set', c.id, hostInventory());
          if (!k.ok) process.stderr.write(k.message + '\n');
        }
        for (const c of changes) {
          log().info({ container: c.id, outcome: 'updated', limit: c.after.all, perGpu: Object.fromEntries(c.after.perGpu) }, 'budget updated');
          process.stdout.write(c.id + '\n');
        }
      } catch (e) {
        log().error({ outcome: 'refused' }, (e as Error).message);
        throw e;
      }
    },
  );
}

/** A change's budgets by GPU, for the containers whose GPUs were recorded at create (known by UUID). */
function budgetsAfter(c: Change): GpuBudget[] {
  const gpus = readHostRecord(c.dir)?.gpus ?? [];
  const sizes = new Map((hostInventory()?.gpus ?? []).map((g) => [g.uuid, g.totalBytes]));
  return gpus.map((g, index) => {
    const bytes = c.after.perGpu.get(index) ?? c.after.all;
    return { index, uuid: g.uuid, totalBytes: sizes.get(g.uuid) ?? 0, from: 'gpumem update', ...(bytes === undefined ? {} : { bytes }) };
  });
}

/** Through the same admission as a start: each new budget beside every other container's (the changed ones' new ones included). */
function admitChanges(changes: readonly Change[]): void {
  const policy = loadPolicy();
  const changed = new Set(changes.map((c) => c.id));
  const ledger: LedgerEntry[] = ledgerEntries().filter((e) => !changed.has(e.container));
  for (const c of changes) {
    const budgets = budgetsAfter(c);
    // A GPU whose size the host cannot tell (no NVML now) cannot be judged; its budget was admitted when it started.
    const judged = budgets.filter((b) => b.totalBytes > 0);
    try {
      admit(judged, ledger, policy, policyFile());
    } catch (e) {
      throw new Error(`gpumem: ${c.id.slice(0, 12)}: ${(e as Error).message.replace(/^gpumem: /, '').replace('this container asks', 'the update asks')}; nothing was changed`);
    }
    for (const b of budgets) if (b.bytes !== undefined) ledger.push({ container: c.id, uuid: b.uuid, bytes: b.bytes });
  }
}

/** The host record's ledger entry follows the new budget. */
function recordBudgets(c: Change): void {
  const record = readHostRecord(c.dir);
  if (!record?.gpus) return;
  const gpus = record.gpus.map((g, i) => {
    const bytes = c.after.perGpu.get(i) ?? c.after.all;
    return { uuid: g.uuid, bytes: bytes === undefined ? null : bytes.toString() };
  });
  rewriteHostRecord(c.dir, { ...record, gpus });
}
