/**
 * `gpumem inspect CONTAINER...`: everything gpumem knows about limited containers, as a JSON array
 * like docker inspect: the decision (each GPU's budget, its UUID and where it came from), the
 * config as the interposer reads it, the region's report, the host's record, what NVML shows the
 * container's processes hold, and whether the region under-reports it.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import type { Argv } from 'yargs';
import { accountingProcesses } from '../ffi/native.js';
import { containerNames } from '../docker/container-names.js';
import { logFile } from '../log.js';
import { loadPolicy } from '../policy/load.js';
import { resolveContainer } from '../state-lookup.js';
import { leftoverState } from '../state-sweep.js';
import { stateDir } from '../state.js';
import { inCgroup } from '../truth/cgroup.js';
import { containerGpuOf } from '../truth/gpu-map.js';
import { readHostRecord, type HostRecord } from '../truth/host-record.js';
import { hostView } from '../truth/host-view.js';
import { TAMPER_TOLERANCE } from '../truth/judge.js';
import { confirmedLook, gpuUuids, rowsOf } from '../truth/rows.js';

/** How much of the decision log's end is searched for a container's decision: its lines are short, and recent. */
const LOG_TAIL_BYTES = 8 << 20;

const byIndex = (m: ReadonlyMap<number, number | bigint | string> | undefined): Record<string, number | string> | null =>
  m === undefined ? null : Object.fromEntries([...m].map(([k, v]) => [String(k), typeof v === 'bigint' ? Number(v) : v]));

/** The decision log the host writes to now: the environment's, else the policy's, else the default. */
function decisionLogFile(): string {
  if (process.env.GPUMEM_LOG_FILE) return process.env.GPUMEM_LOG_FILE;
  try {
    return loadPolicy().logFile;
  } catch {
    return logFile();
  }
}

/** The end of a file, whole lines only; '' when it cannot be read. */
function tail(file: string, bytes: number): string {
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const size = fstatSync(fd).size;
    const start = Math.max(0, size - bytes);
    const buf = Buffer.alloc(size - start);
    const n = readSync(fd, buf, 0, buf.length, start);
    const text = buf.toString('utf8', 0, n);
    return start > 0 ? text.slice(text.indexOf('\n') + 1) : text;
  } catch {
    return '';
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

type LogLine = Record<string, unknown> & { time?: number; msg?: string; container?: string };

/** The container's last "budget set" line in the decision log, and the "budget updated" lines after it. */
function loggedDecision(id: string, file: string): { set: LogLine | null; updates: LogLine[] } {
  let set: LogLine | null = null;
  let updates: LogLine[] = [];
  for (const line of tail(file, LOG_TAIL_BYTES).split('\n')) {
    if (!line.includes(id)) continue; // most lines are other containers': skip them unparsed
    let j: LogLine;
    try {
      j = JSON.parse(line) as LogLine;
    } catch {
      continue;
    }
    if (j.container !== id) continue;
    if (j.msg === 'budget set') {
      set = j;
      updates = [];
    } else if (j.msg === 'budget updated') updates.push(j);
  }
  return { set, updates };
}

const when = (l: LogLine): string | null => (typeof l.time === 'number' ? new Date(l.time).toISOString() : null);

/** Each GPU's budget as the config holds it now, its UUID, and where it came from as the decision log tells it. */
function decision(id: string, config: { all?: number; perGpu: Map<number, number> } | undefined, uuids: Map<number, string>, record: HostRecord | null) {
  const file = decisionLogFile();
  const { set, updates } = loggedDecision(id, file);
  const loggedGpus = Array.isArray(set?.gpus) ? (set.gpus as { index?: unknown; from?: unknown }[]) : [];
  const fromOf = (index: number): string | null => {
    if (updates.length) return 'gpumem update';
    const g = loggedGpus.find((x) => x?.index === index);
    return typeof g?.from === 'string' ? g.from : null;
  };
  const indexes = [...new Set([...uuids.keys(), ...(config?.perGpu.keys() ?? [])])].sort((a, b) => a - b);
  const recorded = record?.gpus ?? null;
  return {
    gpus: indexes.length
      ? indexes.map((index) => ({
          index,
          uuid: uuids.get(index) ?? null,
          budget: config?.perGpu.get(index) ?? config?.all ?? null,
          from: fromOf(index),
        }))
      : null,
    /** Where the GPUs are not known: the one budget every GPU has. */
    all: config?.all ?? null,
    from: indexes.length ? null : updates.length ? 'gpumem update' : typeof set?.from === 'string' ? set.from : null,
    /** The ledger's entries (the host record), as admission counts them. */
    ledger: recorded,
    log: {
      file,
      /** null: the decision is no longer in the log (rotated, or another log file then). */
      decided: set ? when(set) : null,
      updated: updates.map(when),
      warnings: Array.isArray(set?.warnings) ? set.warnings : [],
    },
  };
}

/** NVML's processes in the container's cgroup, each under its host pid; null when the host cannot tell (no NVML, no cgroup recorded). */
function hostProcesses(record: HostRecord | null) {
  const view = hostView();
  const cgroup = record?.cgroup;
  if (!view || !cgroup) return null;
  const gpuOf = containerGpuOf(record.visibleDevices, view.gpus, record.gpus?.map((g) => g.uuid));
  return view.processes
    .filter((p) => inCgroup(view.cgroupOf(p.pid), cgroup))
    .map((p) => ({ pid: p.pid, hostGpu: p.gpu, gpu: gpuOf?.get(p.gpu) ?? null, uuid: view.gpus[p.gpu]?.uuid ?? null, used: p.used }));
}

/** A region's slots for showing; a region that cannot be read says why (the region's own error is beside it). */
function slotsOf(file: string): { pid: number; usedPerGpu: ReturnType<typeof byIndex>; driverPerGpu: ReturnType<typeof byIndex>; driverUnseen: boolean }[] | { error: string } {
  try {
    return accountingProcesses(file).map((p) => ({ pid: p.pid, usedPerGpu: byIndex(p.usedPerGpu), driverPerGpu: byIndex(p.driverPerGpu), driverUnseen: p.driverUnseen }));
  } catch (e) {
    return { error: (e as Error).message };
  }
}

async function inspectOne(id: string, name: string | null) {
  const dir = stateDir(id);
  const { looks, confirmed } = await confirmedLook([id]);
  const c = looks[0]!;
  const record = readHostRecord(dir);
  const rows = rowsOf(c, confirmed.get(id) ?? [], name);
  const usage = c.usage;
  return {
    id,
    name,
    stateDir: dir.root,
    /** Why its state is a leftover (the container is gone), or null. */
    gone: leftoverState(id),
    config: c.config
      ? { file: dir.configFile, all: c.config.all ?? null, perGpu: byIndex(c.config.perGpu), uuids: byIndex(c.config.uuids) }
      : { file: dir.configFile, error: c.error ?? null },
    decision: decision(id, c.config, gpuUuids(c), record),
    region: usage
      ? {
          file: dir.accountingFile,
          usedPerGpu: byIndex(usage.usedPerGpu),
          driverPerGpu: byIndex(usage.driverPerGpu),
          peak: byIndex(usage.peak),
          refused: byIndex(usage.refused),
          processes: usage.processes,
          driverUnseen: usage.driverUnseen,
        }
      : { file: dir.accountingFile, error: c.error ?? null },
    processes: {
      /** Occupied process slots in the region. */
      slots: usage?.processes ?? null,
      /** Each slot as the container's processes wrote it (pids inside the container), or the region's error. */
      slotDetail: slotsOf(dir.accountingFile),
      /** What NVML shows each of the container's processes hold (host pids). */
      host: hostProcesses(record),
    },
    hostRecord: record,
    /** As gpumem ps shows it, a row per GPU. */
    gpus: rows.map(({ container: _c, name: _n, ...r }) => r),
    tampering: rows.some((r) => r.tampering),
    tamperTolerance: TAMPER_TOLERANCE,
  };
}

export function inspectCommand(y: Argv): Argv {
  return y.command(
    'inspect <container..>',
    'everything gpumem knows about limited containers, as a JSON array (like docker inspect)',
    (c) =>
      c
        .positional('container', { type: 'string', array: true, demandOption: true, describe: 'container name, id or unique id prefix' })
        .example('gpumem inspect trainer', "the container's budgets, where they came from, its use and its processes")
        .example('gpumem inspect trainer | jq ".[0].decision.gpus"', 'each GPU with its UUID, budget and source')
        .epilogue('Exit status: 0 when every container was found; 1 when one was not (one line each on stderr, the others still printed).'),
    async (a) => {
      const names = await containerNames();
      const out: unknown[] = [];
      const seen = new Set<string>();
      let missing = false;
      for (const ref of a.container as string[]) {
        let id: string;
        try {
          id = (await resolveContainer(ref)).id;
        } catch (e) {
          process.stderr.write((e as Error).message + '\n');
          missing = true;
          continue;
        }
        if (seen.has(id)) continue;
        seen.add(id);
        out.push(await inspectOne(id, names.get(id) ?? null));
      }
      process.stdout.write(JSON.stringify(out, null, 2) + '\n');
      if (missing) process.exitCode = 1;
    },
  );
}
