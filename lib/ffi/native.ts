/**
 * The one place TypeScript reaches C: libgpumem-host.so, which defines the size and limit
 * grammar, the interposer's config file and the accounting region (native/include/gpumem_host.h).
 * Kept behind this module so the FFI library could be swapped.
 */
import ffi from '@2060.io/ffi-napi';
import ref from '@2060.io/ref-napi';
import { hostLibraryPath } from '../paths.js';
import type { InterposerConfig, Limit } from '../budget/types.js';
import type { HostGpu, InventoryGpu } from '../gpu/host-gpu.js';

export type { HostGpu, InterposerConfig, InventoryGpu, Limit };

// Room for a message quoting a key and a value (GPUMEM_MESSAGE_MAX in native/src/format/quote.h).
const ERR_LEN = 2048;

type Host = {
  gpumem_parse_size: (text: string, out: Buffer, err: Buffer, errlen: number) => number;
  gpumem_parse_limit: (what: string, text: string, limit: Buffer, err: Buffer, errlen: number) => number;
  gpumem_env_limits: (env: Buffer, n: number, limits: Buffer, found: Buffer, err: Buffer, errlen: number) => number;
  gpumem_percent_bytes: (what: string, limit: Buffer, gpu: number, total: string, bytes: Buffer, err: Buffer, errlen: number) => number;
  gpumem_gpu_list: (totals: Buffer, uuids: Buffer, n: number, count: Buffer, err: Buffer, errlen: number) => number;
  gpumem_gpu_processes: (gpu: Buffer, pid: Buffer, used: Buffer, n: number, count: Buffer, unlisted: Buffer, err: Buffer, errlen: number) => number;
  gpumem_config_write: (path: string, all: string, perGpu: Buffer, uuids: Buffer | null, n: number, err: Buffer, errlen: number) => number;
  gpumem_config_read: (path: string, all: Buffer, perGpu: Buffer, uuids: Buffer, n: number, err: Buffer, errlen: number) => number;
  gpumem_budget_update: (config: string, accounting: string, all: string, perGpu: Buffer, uuids: Buffer | null, n: number, err: Buffer, errlen: number) => number;
  gpumem_accounting_create: (path: string, err: Buffer, errlen: number) => number;
  gpumem_region_storage_mount: (dir: string, err: Buffer, errlen: number) => number;
  gpumem_region_storage_unmount: (dir: string, err: Buffer, errlen: number) => number;
  gpumem_accounting_generation: (path: string, generation: Buffer, err: Buffer, errlen: number) => number;
  gpumem_accounting_bump: (path: string, err: Buffer, errlen: number) => number;
  gpumem_accounting_report: (path: string, used: Buffer, driver: Buffer, peak: Buffer, refused: Buffer, n: number, live: Buffer, unseen: Buffer, err: Buffer, errlen: number) => number;
  gpumem_accounting_processes: (path: string, pids: Buffer, unseen: Buffer, used: Buffer, driver: Buffer, max: number, n: number, count: Buffer, err: Buffer, errlen: number) => number;
  gpumem_gpu_inventory: (uuids: Buffer, totals: Buffer, minor: Buffer, parent: Buffer, n: number, count: Buffer, driver: Buffer, dvlen: number, err: Buffer, errlen: number) => number;
  gpumem_memory_limit: (uuid: string, cgroupFile: string, bytes: string, err: Buffer, errlen: number) => number;
  gpumem_lock_acquire: (path: string, fd: Buffer, err: Buffer, errlen: number) => number;
  gpumem_lock_release: (fd: number) => number;
  gpumem_constant: (name: string) => string | null;
  gpumem_quote_text: (text: Buffer, len: number, mode: number, out: Buffer, outlen: number) => number;
};

let host: Host | undefined;

function lib(): Host {
  if (host) return host;
  const path = hostLibraryPath();
  try {
    // uint64 values travel in Buffers: ffi's uint64 would round past 2^53.
    host = ffi.Library(path, {
      gpumem_parse_size: ['int', ['string', 'pointer', 'pointer', 'int']],
      gpumem_parse_limit: ['int', ['string', 'string', 'pointer', 'pointer', 'int']],
      gpumem_env_limits: ['int', ['pointer', 'int', 'pointer', 'pointer', 'pointer', 'int']],
      gpumem_percent_bytes: ['int', ['string', 'pointer', 'int', 'uint64', 'pointer', 'pointer', 'int']],
      gpumem_gpu_list: ['int', ['pointer', 'pointer', 'int', 'pointer', 'pointer', 'int']],
      gpumem_gpu_processes: ['int', ['pointer', 'pointer', 'pointer', 'int', 'pointer', 'pointer', 'pointer', 'int']],
      gpumem_config_write: ['int', ['string', 'uint64', 'pointer', 'pointer', 'int', 'pointer', 'int']],
      gpumem_config_read: ['int', ['string', 'pointer', 'pointer', 'pointer', 'int', 'pointer', 'int']],
      gpumem_budget_update: ['int', ['string', 'string', 'uint64', 'pointer', 'pointer', 'int', 'pointer', 'int']],
      gpumem_accounting_create: ['int', ['string', 'pointer', 'int']],
      gpumem_region_storage_mount: ['int', ['string', 'pointer', 'int']],
      gpumem_region_storage_unmount: ['int', ['string', 'pointer', 'int']],
      gpumem_accounting_generation: ['int', ['string', 'pointer', 'pointer', 'int']],
      gpumem_accounting_bump: ['int', ['string', 'pointer', 'int']],
      gpumem_accounting_report: ['int', ['string', 'pointer', 'pointer', 'pointer', 'pointer', 'int', 'pointer', 'pointer', 'pointer', 'int']],
      gpumem_accounting_processes: ['int', ['string', 'pointer', 'pointer', 'pointer', 'pointer', 'int', 'int', 'pointer', 'pointer', 'int']],
      gpumem_gpu_inventory: ['int', ['pointer', 'pointer', 'pointer', 'pointer', 'int', 'pointer', 'pointer', 'int', 'pointer', 'int']],
      gpumem_memory_limit: ['int', ['string', 'string', 'uint64', 'pointer', 'int']],
      gpumem_lock_acquire: ['int', ['string', 'pointer', 'pointer', 'int']],
      gpumem_lock_release: ['int', ['int']],
      gpumem_constant: ['string', ['string']],
      gpumem_quote_text: ['int', ['pointer', 'uint64', 'int', 'pointer', 'int']],
    }) as unknown as Host;
  } catch (e) {
    throw new Error(`gpumem: cannot load ${path} (run "npm run build"): ${(e as Error).message}`);
  }
  return host;
}

const constants = new Map<string, string>();

/**
 * A name or number the C side defines (native/src/common/layout.h, the agent protocol, max_gpus).
 * Static strings in C: asked once each (an FFI call costs microseconds, and the state layout is
 * asked for every container at every decision).
 */
export function constant(name: string): string {
  const known = constants.get(name);
  if (known !== undefined) return known;
  const value = lib().gpumem_constant(name);
  if (value === null) throw new NativeError(`gpumem: ${hostLibraryPath()} defines no constant "${name}" (rebuild: npm run build)`);
  constants.set(name, value);
  return value;
}

/** Most GPUs a config or region describes (GPUMEM_MAX_GPUS in C). */
let max: number | undefined;
export const maxGpus = (): number => (max ??= Number(constant('max_gpus')));

/** A failure the C side described in one line. */
export class NativeError extends Error {
  override name = 'NativeError';
}

function check(rc: number, err: Buffer): void {
  if (rc !== 0) {
    const end = err.indexOf(0);
    throw new NativeError(err.toString('utf8', 0, end < 0 ? err.length : end) || 'gpumem: native call failed');
  }
}

/** Room for any quoted value or key (GPUMEM_QUOTE_MAX in native/src/format/quote.h). */
const QUOTE_MAX = 448;

function quoteText(text: string, mode: 0 | 1 | 2): string {
  const bytes = Buffer.from(text, 'utf8');
  const cap = mode === 2 ? 6 * bytes.length + 1 : QUOTE_MAX;
  const out = Buffer.alloc(cap);
  const n = lib().gpumem_quote_text(bytes, bytes.length, mode, out, cap);
  if (n < 0) throw new NativeError('gpumem: gpumem_quote_text refused its arguments');
  return out.toString('utf8', 0, n);
}

/**
 * A value as every message shows it, by the C grammar's own rule: quoted, on one line (a newline
 * shows as \n), cut after 64 characters as "first 64…" (10000 characters).
 */
export const quote = (value: string): string => quoteText(value, 0);
/** A key as messages show it: as it is when plain (GPUMEM_LIMIT_X), else quoted like a value. */
export const quoteName = (key: string): string => quoteText(key, 1);
/**
 * A whole message on one line: control characters escaped, nothing else changed. Never throws:
 * it guards refusals, which must be told even when this library is what failed to load.
 */
export function oneLine(message: string): string {
  try {
    return quoteText(message, 2);
  } catch {
    return JSON.stringify(message).slice(1, -1);
  }
}

/** Bytes for a size in `docker run --memory` grammar ("8g", "512MiB"), exactly; throws NativeError. */
export function parseSize(text: string): bigint {
  const out = Buffer.alloc(8);
  const err = Buffer.alloc(ERR_LEN);
  check(lib().gpumem_parse_size(text, out, err, ERR_LEN), err);
  return out.readBigUInt64LE();
}


/** uint64_t words per limit in C (GPUMEM_LIMIT_WORDS): bytes, percent numerator, denominator. */
const LIMIT_WORDS = 3;

function limitAt(buf: Buffer, entry: number): Limit | undefined {
  const at = 8 * LIMIT_WORDS * entry;
  const bytes = buf.readBigUInt64LE(at);
  const num = buf.readBigUInt64LE(at + 8);
  const den = buf.readBigUInt64LE(at + 16);
  if (bytes > 0n) return { bytes };
  if (num > 0n && den > 0n) return { percent: Number(num) / Number(den), num, den };
  return undefined;
}

/** One limit value (a size or a percent); `what` names it in the message. Throws NativeError. */
export function parseLimit(what: string, text: string): Limit {
  const out = Buffer.alloc(8 * LIMIT_WORDS);
  const err = Buffer.alloc(ERR_LEN);
  check(lib().gpumem_parse_limit(what, text, out, err, ERR_LEN), err);
  const limit = limitAt(out, 0);
  if (!limit) throw new NativeError(`${what}: the C grammar returned no limit`);
  return limit;
}

/** GPUMEM_LIMIT and GPUMEM_LIMIT_<i> of an environment, read in C; throws NativeError. */
export function envLimits(env: readonly string[]): { found: boolean; all?: Limit; perGpu: Map<number, Limit> } {
  // A char *[] for C: each string its own NUL-terminated buffer, kept alive by the array.
  const array = Buffer.alloc(8 * Math.max(1, env.length));
  env.forEach((kv, i) => ref.writePointer(array, 8 * i, ref.allocCString(kv)));
  const limits = Buffer.alloc(8 * LIMIT_WORDS * (maxGpus() + 1));
  const found = Buffer.alloc(4);
  const err = Buffer.alloc(ERR_LEN);
  check(lib().gpumem_env_limits(array, env.length, limits, found, err, ERR_LEN), err);
  const perGpu = new Map<number, Limit>();
  for (let i = 0; i < maxGpus(); i++) {
    const l = limitAt(limits, i);
    if (l) perGpu.set(i, l);
  }
  const all = limitAt(limits, maxGpus());
  return { found: found.readInt32LE() === 1, ...(all ? { all } : {}), perGpu };
}

/** floor(gpuBytes * percent / 100), exact, computed in C; throws NativeError when it is 0 bytes. */
export function percentBytes(what: string, limit: { num: bigint; den: bigint }, gpu: number, gpuBytes: number | bigint): bigint {
  const words = Buffer.alloc(8 * LIMIT_WORDS);
  words.writeBigUInt64LE(limit.num, 8);
  words.writeBigUInt64LE(limit.den, 16);
  const out = Buffer.alloc(8);
  const err = Buffer.alloc(ERR_LEN);
  // The size as a decimal string: ffi passes it to C's uint64_t exactly.
  check(lib().gpumem_percent_bytes(what, words, gpu, BigInt(gpuBytes).toString(), out, err, ERR_LEN), err);
  return out.readBigUInt64LE();
}


const UUID_LEN = 96;

/** The host's GPUs in NVML's order; throws NativeError when the host has no NVML. */
export function hostGpus(): HostGpu[] {
  const totals = Buffer.alloc(8 * maxGpus());
  const uuids = Buffer.alloc(UUID_LEN * maxGpus());
  const count = Buffer.alloc(4);
  const err = Buffer.alloc(ERR_LEN);
  check(lib().gpumem_gpu_list(totals, uuids, maxGpus(), count, err, ERR_LEN), err);
  const out: HostGpu[] = [];
  for (let i = 0; i < Math.min(count.readInt32LE(), maxGpus()); i++) {
    const u = uuids.subarray(i * UUID_LEN, (i + 1) * UUID_LEN);
    out.push({ index: i, uuid: u.toString('utf8', 0, Math.max(0, u.indexOf(0))), totalBytes: Number(totals.readBigUInt64LE(8 * i)) });
  }
  return out;
}

/** A process NVML lists on one of the host's GPUs, under the host's pid. */
export interface GpuProcess {
  /** NVML's index of the GPU (HostGpu.index). */
  gpu: number;
  pid: number;
  /** Bytes it holds there; null where NVML cannot tell. */
  used: number | null;
}

/**
 * NVML's compute processes on every host GPU, with what each holds: the host's own view, never
 * the container's. `unlisted`: GPUs whose processes NVML could not list. Throws NativeError when
 * the host has no NVML (or one without per-process figures).
 */
export function gpuProcesses(): { processes: GpuProcess[]; unlisted: Set<number> } {
  const err = Buffer.alloc(ERR_LEN);
  const count = Buffer.alloc(4);
  const unlisted = Buffer.alloc(8);
  // Room for a busy host first; asked again with more if processes outnumber it.
  for (let room = 1024; ; room = count.readInt32LE() + 64) {
    const gpu = Buffer.alloc(4 * room);
    const pid = Buffer.alloc(4 * room);
    const used = Buffer.alloc(8 * room);
    check(lib().gpumem_gpu_processes(gpu, pid, used, room, count, unlisted, err, ERR_LEN), err);
    const n = count.readInt32LE();
    if (n > room) continue;
    const processes: GpuProcess[] = [];
    for (let i = 0; i < n; i++) {
      const bytes = used.readBigUInt64LE(8 * i);
      processes.push({ gpu: gpu.readInt32LE(4 * i), pid: pid.readUInt32LE(4 * i), used: bytes === 0xffffffffffffffffn ? null : Number(bytes) });
    }
    const bits = unlisted.readBigUInt64LE();
    return { processes, unlisted: new Set([...Array(64).keys()].filter((i) => (bits >> BigInt(i)) & 1n)) };
  }
}

/**
 * Budgets as a config takes them: bigints, or numbers where they are exact (whole, at most 2^53).
 * `uuids`: the host GPU (its UUID as NVML prints it) that is the container's GPU i; none = GPU i
 * is CUDA ordinal i in each process (gpumem_host.h, gpumem_config_write).
 */
export interface ConfigBytes {
  all?: bigint | number;
  perGpu: ReadonlyMap<number, bigint | number>;
  uuids?: ReadonlyMap<number, string>;
}

/** Bytes for C's uint64_t; a number that is not a whole number of bytes, exactly, is refused, not rounded. */
function word(bytes: bigint | number): bigint {
  if (typeof bytes === 'number' && !Number.isSafeInteger(bytes)) throw new NativeError(`gpumem: ${bytes} is not an exact number of bytes`);
  const b = BigInt(bytes);
  if (b < 0n || b >= 2n ** 64n) throw new NativeError(`gpumem: ${b} bytes do not fit the config`);
  return b;
}

function perGpuBuffer(perGpu: ConfigBytes['perGpu']): Buffer {
  const buf = Buffer.alloc(8 * maxGpus());
  for (const [i, bytes] of perGpu) {
    if (i < 0 || i >= maxGpus()) throw new NativeError(`gpumem: GPU index ${i} is out of range 0-${maxGpus() - 1}`);
    buf.writeBigUInt64LE(word(bytes), 8 * i);
  }
  return buf;
}

/** GPUMEM_UUID_ENTRY_BYTES entries for C, NUL-terminated ("" where none); null when there are no uuids. */
function uuidBuffer(uuids: ConfigBytes['uuids']): Buffer | null {
  if (!uuids || uuids.size === 0) return null;
  const buf = Buffer.alloc(UUID_LEN * maxGpus());
  for (const [i, uuid] of uuids) {
    if (!Number.isInteger(i) || i < 0 || i >= maxGpus()) throw new NativeError(`gpumem: GPU index ${i} is out of range 0-${maxGpus() - 1}`);
    const bytes = Buffer.from(uuid, 'utf8');
    // Too long or with a NUL inside: C would read another string than this one.
    if (bytes.length >= UUID_LEN || bytes.includes(0)) throw new NativeError(`gpumem: uuid of GPU ${i}, ${quote(uuid)}, is not a GPU UUID (accepted: GPU- or MIG- and 8-4-4-4-12 hex digits, as nvidia-smi -L prints)`);
    bytes.copy(buf, UUID_LEN * i);
  }
  return buf;
}

/** The non-empty entries of a uuids array the C side filled, by GPU index. */
function uuidEntries(buf: Buffer): Map<number, string> {
  const out = new Map<number, string>();
  for (let i = 0; i < maxGpus(); i++) {
    const u = buf.subarray(i * UUID_LEN, (i + 1) * UUID_LEN);
    const text = u.toString('utf8', 0, Math.max(0, u.indexOf(0)));
    if (text) out.set(i, text);
  }
  return out;
}

/** The non-zero entries of a uint64_t[GPUMEM_MAX_GPUS] the C side filled, by GPU index, exactly. */
function perGpuWords(buf: Buffer): Map<number, bigint> {
  const out = new Map<number, bigint>();
  for (let i = 0; i < maxGpus(); i++) {
    const v = buf.readBigUInt64LE(8 * i);
    if (v > 0n) out.set(i, v);
  }
  return out;
}

/** The same as numbers, for figures bounded by a GPU's memory (use, driver-taken memory). */
function perGpuMap(buf: Buffer): Map<number, number> {
  return new Map([...perGpuWords(buf)].map(([i, v]) => [i, Number(v)]));
}

/** Writes the interposer's config atomically (temp file + rename). */
export function writeConfig(path: string, config: ConfigBytes): void {
  const err = Buffer.alloc(ERR_LEN);
  // A decimal string: ffi passes it to C's uint64_t exactly, where a number could round.
  const all = word(config.all ?? 0n).toString();
  check(lib().gpumem_config_write(path, all, perGpuBuffer(config.perGpu), uuidBuffer(config.uuids), maxGpus(), err, ERR_LEN), err);
}

/**
 * Changes a running container's budget: the config is rewritten, then the region's generation is
 * bumped, and its processes apply the new budget from their next allocation. `uuids` must be the
 * config's own (readBudgets): the container's processes refuse everything when they change.
 */
export function updateBudget(configPath: string, accountingPath: string, config: ConfigBytes): void {
  const err = Buffer.alloc(ERR_LEN);
  const all = word(config.all ?? 0n).toString();
  check(lib().gpumem_budget_update(configPath, accountingPath, all, perGpuBuffer(config.perGpu), uuidBuffer(config.uuids), maxGpus(), err, ERR_LEN), err);
}

/** Reads and validates an interposer config, exactly (bytes as bigint); `uuids` only when it has uuid lines. */
export function readBudgets(path: string): InterposerConfig {
  const all = Buffer.alloc(8);
  const per = Buffer.alloc(8 * maxGpus());
  const ids = Buffer.alloc(UUID_LEN * maxGpus());
  const err = Buffer.alloc(ERR_LEN);
  check(lib().gpumem_config_read(path, all, per, ids, maxGpus(), err, ERR_LEN), err);
  const perGpu = perGpuWords(per);
  const uuids = uuidEntries(ids);
  const a = all.readBigUInt64LE();
  return { ...(a > 0n ? { all: a } : {}), perGpu, ...(uuids.size ? { uuids } : {}) };
}

/**
 * The same as numbers, for showing (gpumem ps): exact up to 2^53 bytes (8 PiB, past any GPU).
 * Whatever writes a config back reads it with readBudgets.
 */
export function readConfig(path: string): { all?: number; perGpu: Map<number, number>; uuids?: Map<number, string> } {
  const c = readBudgets(path);
  const perGpu = new Map([...c.perGpu].map(([i, v]) => [i, Number(v)]));
  return { ...(c.all === undefined ? {} : { all: Number(c.all) }), perGpu, ...(c.uuids ? { uuids: c.uuids } : {}) };
}

/** Creates a container's accounting region (shared by its processes). */
export function createAccounting(path: string): void {
  const err = Buffer.alloc(ERR_LEN);
  check(lib().gpumem_accounting_create(path, err, ERR_LEN), err);
}

/** Mounts the region's own small tmpfs on a container's empty shared directory (a bound on its growth). */
export function mountRegionStorage(dir: string): void {
  const err = Buffer.alloc(ERR_LEN);
  check(lib().gpumem_region_storage_mount(dir, err, ERR_LEN), err);
}

/** Undoes mountRegionStorage (lazily); nothing to do when nothing is mounted there. */
export function unmountRegionStorage(dir: string): void {
  const err = Buffer.alloc(ERR_LEN);
  check(lib().gpumem_region_storage_unmount(dir, err, ERR_LEN), err);
}

/** The region's generation: its processes re-read their config whenever it changes. */
export function accountingGeneration(path: string): bigint {
  const out = Buffer.alloc(8);
  const err = Buffer.alloc(ERR_LEN);
  check(lib().gpumem_accounting_generation(path, out, err, ERR_LEN), err);
  return out.readBigUInt64LE();
}

/** Makes a container's processes re-read their config as it is now (generation + 1). */
export function bumpGeneration(path: string): void {
  const err = Buffer.alloc(ERR_LEN);
  check(lib().gpumem_accounting_bump(path, err, ERR_LEN), err);
}

export interface Usage {
  /** Bytes charged per GPU index, for indexes with a charge. */
  usedPerGpu: Map<number, number>;
  /** Of which memory the driver took without an allocation call (code, local memory, heap). */
  driverPerGpu: Map<number, number>;
  /**
   * The most the container's processes held together per GPU index since the region was made
   * (driver-taken memory included; never below what is held now), for indexes with one.
   * Always set by accountingUsage; optional so that a Usage made elsewhere (a test's) need not.
   */
  peak?: Map<number, number>;
  /** Calls the budget refused (CUDA_ERROR_OUT_OF_MEMORY) per GPU index, for indexes with any. */
  refused?: Map<number, number>;
  /** Processes holding a slot in the region. */
  processes: number;
  /** Of which NVML shows no per-process figure for: their driver-taken memory is not charged. */
  driverUnseen: number;
}

/** Reads a region a container may have scribbled on: validated in C, never trusted. */
export function accountingUsage(path: string): Usage {
  const used = Buffer.alloc(8 * maxGpus());
  const live = Buffer.alloc(4);
  const err = Buffer.alloc(ERR_LEN);
  const driver = Buffer.alloc(8 * maxGpus());
  const unseen = Buffer.alloc(4);
  const peak = Buffer.alloc(8 * maxGpus());
  const refused = Buffer.alloc(8 * maxGpus());
  // One reading for every figure: several would each copy the region, and could disagree.
  check(lib().gpumem_accounting_report(path, used, driver, peak, refused, maxGpus(), live, unseen, err, ERR_LEN), err);
  return {
    usedPerGpu: perGpuMap(used),
    driverPerGpu: perGpuMap(driver),
    peak: perGpuMap(peak),
    refused: perGpuMap(refused),
    processes: live.readInt32LE(),
    driverUnseen: unseen.readInt32LE(),
  };
}

/** One process holding a slot in a container's region, as the container reports it. */
export interface RegionProcess {
  /** The container's own pid for it (inside its pid namespace). */
  pid: number;
  /** Bytes charged per GPU index, for indexes with a charge. */
  usedPerGpu: Map<number, number>;
  /** Of which driver-taken. */
  driverPerGpu: Map<number, number>;
  /** NVML shows no per-process figure for it: its driver-taken memory is not charged. */
  driverUnseen: boolean;
}

/** The processes holding a slot in the region at path (validated in C, never trusted). */
export function accountingProcesses(path: string): RegionProcess[] {
  const n = maxGpus();
  const count = Buffer.alloc(4);
  const err = Buffer.alloc(ERR_LEN);
  // Room for a few first; asked again with room for all when there are more.
  for (let room = 16; ; room = count.readInt32LE()) {
    const pids = Buffer.alloc(4 * room);
    const unseen = Buffer.alloc(4 * room);
    const used = Buffer.alloc(8 * n * room);
    const driver = Buffer.alloc(8 * n * room);
    check(lib().gpumem_accounting_processes(path, pids, unseen, used, driver, room, n, count, err, ERR_LEN), err);
    if (count.readInt32LE() > room) continue;
    return Array.from({ length: count.readInt32LE() }, (_, i) => ({
      pid: pids.readInt32LE(4 * i),
      usedPerGpu: perGpuMap(used.subarray(8 * n * i, 8 * n * (i + 1))),
      driverPerGpu: perGpuMap(driver.subarray(8 * n * i, 8 * n * (i + 1))),
      driverUnseen: unseen.readInt32LE(4 * i) !== 0,
    }));
  }
}

// ---- The host's GPU inventory, the driver's per-cgroup memory limit, the admission lock ----------

/** Room for any driver version (NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE). */
const DRIVER_VERSION_LEN = 80;

/**
 * The host's GPUs in NVML's order, each followed by its MIG devices, and the driver's version.
 * Throws NativeError when the host has no NVML or NVML cannot describe a device.
 */
export function gpuInventory(): { driverVersion: string; gpus: InventoryGpu[] } {
  const count = Buffer.alloc(4);
  const driver = Buffer.alloc(DRIVER_VERSION_LEN);
  const err = Buffer.alloc(ERR_LEN);
  // Room for eight GPUs of seven MIG devices each first; asked again when there are more.
  for (let room = 64; ; room = count.readInt32LE()) {
    const uuids = Buffer.alloc(UUID_LEN * room);
    const totals = Buffer.alloc(8 * room);
    const minor = Buffer.alloc(4 * room);
    const parent = Buffer.alloc(4 * room);
    check(lib().gpumem_gpu_inventory(uuids, totals, minor, parent, room, count, driver, DRIVER_VERSION_LEN, err, ERR_LEN), err);
    const n = count.readInt32LE();
    if (n > room) continue;
    const gpus: InventoryGpu[] = [];
    for (let k = 0; k < n; k++) {
      const u = uuids.subarray(k * UUID_LEN, (k + 1) * UUID_LEN);
      const p = parent.readInt32LE(4 * k);
      gpus.push({
        index: k,
        uuid: u.toString('utf8', 0, Math.max(0, u.indexOf(0))),
        totalBytes: Number(totals.readBigUInt64LE(8 * k)),
        minor: minor.readInt32LE(4 * k),
        ...(p >= 0 ? { parent: p } : {}),
        mig: p >= 0,
      });
    }
    return { driverVersion: driver.toString('utf8', 0, Math.max(0, driver.indexOf(0))), gpus };
  }
}

/**
 * Sets the driver's own hard limit (NVML R615+) on what the processes of one cgroup may hold on
 * the GPU with that UUID: soft = hard = bytes; 0n clears it. 'unavailable' where the driver cannot
 * (before 615, a MIG device, not supported); throws NativeError on an unknown UUID, without root,
 * or on any other NVML failure.
 */
export function setMemoryLimit(uuid: string, cgroupFile: string, bytes: bigint): 'set' | 'unavailable' {
  if (bytes < 0n || bytes >= 2n ** 64n) throw new NativeError(`gpumem: a memory limit of ${bytes} bytes does not fit; use 0 (clear) to 2^64-1`);
  const err = Buffer.alloc(ERR_LEN);
  // A decimal string: ffi passes it to C's uint64_t exactly.
  const rc = lib().gpumem_memory_limit(uuid, cgroupFile, bytes.toString(), err, ERR_LEN);
  if (rc === 1) return 'unavailable';
  check(rc, err);
  return 'set';
}

/**
 * Runs fn holding the host-wide lock at path (an flock: waits for the holder, and the kernel frees
 * it when a holder dies). fn must be synchronous: the lock is let go when it returns.
 */
export function withHostLock<T>(path: string, fn: () => T): T {
  const fd = Buffer.alloc(4);
  const err = Buffer.alloc(ERR_LEN);
  check(lib().gpumem_lock_acquire(path, fd, err, ERR_LEN), err);
  let result: T;
  try {
    result = fn();
  } finally {
    lib().gpumem_lock_release(fd.readInt32LE());
  }
  // A promise would run on unlocked: say so rather than serialise nothing.
  if (typeof (result as { then?: unknown } | null)?.then === 'function') {
    throw new NativeError('gpumem: withHostLock needs a synchronous function; the lock was released before its promise settled');
  }
  return result;
}
