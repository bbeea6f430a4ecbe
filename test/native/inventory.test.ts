// The host's GPU inventory (with MIG), the driver's per-cgroup memory limit and the host-wide lock,
// through lib/ffi/native.ts. NVML is loaded in-process, so each case runs in a fresh Node with the
// fake NVML (or none) on its library path, as host-gpus.test.ts does.
import t from 'tap';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { lstatSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { fakeDriverDir } from './fixtures/native.js';

const GiB = 2 ** 30;
const native = pathToFileURL(resolve(import.meta.dirname, '../../dist/lib/ffi/native.js')).href;
const args = (body: string) => ['--input-type=module', '-e', `import * as n from '${native}';\n${body}`];
const env = (extra: Record<string, string>, nvml = true) => ({
  PATH: process.env.PATH ?? '',
  ...(nvml ? { LD_LIBRARY_PATH: fakeDriverDir } : {}),
  ...extra,
});

/** Runs body in a fresh Node; its last stdout line, parsed. */
function node(body: string, extra: Record<string, string> = {}, nvml = true) {
  const r = spawnSync(process.execPath, args(body), { env: env(extra, nvml), encoding: 'utf8', timeout: 20_000 });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line);
  } catch {
    throw new Error(`child printed no JSON (status ${r.status}): ${r.stdout}${r.stderr}`);
  }
}

/**
 * Runs each scenario in turn in one fresh Node, and returns what each gave (or its error). The fake
 * NVML reads its FAKE_* variables at every call and the host library loads NVML for each call, so
 * one process can go through many host configurations: each scenario's env replaces the FAKE_*
 * variables of the last.
 */
type Scenario =
  | { env: Record<string, string>; call: 'inventory' }
  | { env: Record<string, string>; call: 'limit'; gpu?: number; uuid?: string; cgroup: string; bytes: bigint }
  | { env: Record<string, string>; call: 'lock'; path: string };
function scenarios<K extends string>(list: Record<K, Scenario>, nvml = true): Record<K, any> {
  const body = `const out = {};
    for (const [name, s] of Object.entries(JSON.parse(process.env.T_SCENARIOS))) {
      for (const k of Object.keys(process.env)) if (k.startsWith('FAKE_')) delete process.env[k];
      Object.assign(process.env, s.env);
      try {
        out[name] = s.call === 'inventory' ? n.gpuInventory()
          : s.call === 'limit' ? n.setMemoryLimit(s.uuid ?? n.gpuInventory().gpus[s.gpu].uuid, s.cgroup, BigInt(s.bytes))
          : n.withHostLock(s.path, () => 'held');
      } catch (e) { out[name] = { error: e.message, name: e.name } }
    }
    console.log(JSON.stringify(out));`;
  const json = JSON.stringify(list, (_, v) => (typeof v === 'bigint' ? v.toString() : v));
  return node(body, { T_SCENARIOS: json }, nvml);
}

// Three GPUs of 24, 40 and 80 GiB, reached through /dev/nvidia2, 0 and 1; GPU 1 in MIG mode.
const host = { FAKE_NVML_DEVICE_MEMS: '24g,40g,80g', FAKE_NVML_MINORS: '2,0,1', FAKE_NVML_MIG: '1=10g+20g' };
const at615 = { ...host, FAKE_NVML_DRIVER_VERSION: '615.0' };
const dir = mkdtempSync(join(tmpdir(), 'gpumem-inventory-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const log = (name: string) => join(dir, `${name}.log`);
const read = (name: string) => { try { return readFileSync(log(name), 'utf8') } catch { return undefined } };
const cg = '/sys/fs/cgroup/system.slice/docker-abc.scope';
const missing = 'GPU-00000000-0000-0000-0000-0000000000ff';
const link = join(dir, 'host.lock');
symlinkSync(join(dir, 'elsewhere'), link);

const mems16 = Array(16).fill('80g').join(',');
const mig16 = Array.from({ length: 16 }, (_, i) => `${i}=${Array(7).fill('10g').join('+')}`).join(';');
const r = scenarios({
  inventory: { env: host, call: 'inventory' },
  again: { env: host, call: 'inventory' },
  at615: { env: at615, call: 'inventory' },
  unsupported: { env: { FAKE_NVML_DEVICE_MEMS: '24g,40g', FAKE_NVML_MIG_UNSUPPORTED: '1' }, call: 'inventory' },
  noMigDevices: { env: { FAKE_NVML_DEVICE_MEMS: '24g,40g', FAKE_NVML_MIG: '0=' }, call: 'inventory' },
  mixed: { env: { FAKE_NVML_DEVICE_MEMS: '24g,40g', FAKE_NVML_MIG: '1=5g', FAKE_NVML_MIG_UNSUPPORTED: '1' }, call: 'inventory' },
  big: { env: { FAKE_NVML_DEVICE_MEMS: mems16, FAKE_NVML_MIG: mig16 }, call: 'inventory' },
  set580: { env: { ...host, FAKE_NVML_MEMORY_LIMITS_LOG: log('580') }, call: 'limit', gpu: 0, cgroup: cg, bytes: 8n << 30n },
  clear580: { env: { ...host, FAKE_NVML_MEMORY_LIMITS_LOG: log('580') }, call: 'limit', gpu: 0, cgroup: cg, bytes: 0n },
  set615: { env: { ...at615, FAKE_NVML_MEMORY_LIMITS_LOG: log('615') }, call: 'limit', gpu: 0, cgroup: cg, bytes: 8n << 30n },
  clear615: { env: { ...at615, FAKE_NVML_MEMORY_LIMITS_LOG: log('615') }, call: 'limit', gpu: 0, cgroup: cg, bytes: 0n },
  setMig: { env: { ...at615, FAKE_NVML_MEMORY_LIMITS_LOG: log('mig') }, call: 'limit', gpu: 2, cgroup: cg, bytes: 1n << 30n },
  clearMig: { env: { ...at615, FAKE_NVML_MEMORY_LIMITS_LOG: log('mig') }, call: 'limit', gpu: 3, cgroup: cg, bytes: 0n },
  unknown580: { env: host, call: 'limit', uuid: missing, cgroup: cg, bytes: 1n },
  unknown615: { env: at615, call: 'limit', uuid: missing, cgroup: cg, bytes: 1n },
  relative: { env: at615, call: 'limit', gpu: 0, cgroup: 'x/dmem.max', bytes: 1n },
  symlink: { env: {}, call: 'lock', path: link },
});
// Another process, and one without NVML.
const other = scenarios({ inventory: { env: host, call: 'inventory' } });
const none = scenarios({ inventory: { env: host, call: 'inventory' }, limit: { env: at615, call: 'limit', uuid: missing, cgroup: cg, bytes: 1n } }, false);

t.test('the inventory lists every GPU in NVML order, each followed by its MIG devices', async (t) => {
  const uuid = r.inventory.gpus.map((g: { uuid: string }) => g.uuid);
  t.same(r.inventory.gpus, [
    { index: 0, uuid: uuid[0], totalBytes: 24 * GiB, minor: 2, mig: false },
    { index: 1, uuid: uuid[1], totalBytes: 40 * GiB, minor: 0, mig: false },
    { index: 2, uuid: uuid[2], totalBytes: 10 * GiB, minor: 0, parent: 1, mig: true },
    { index: 3, uuid: uuid[3], totalBytes: 20 * GiB, minor: 0, parent: 1, mig: true },
    { index: 4, uuid: uuid[4], totalBytes: 80 * GiB, minor: 1, mig: false },
  ]);
  for (const k of [0, 1, 4]) t.match(uuid[k], /^GPU-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  for (const k of [2, 3]) t.match(uuid[k], /^MIG-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  t.equal(new Set(uuid.map((u: string) => u.slice(4))).size, 5, 'no two devices share a UUID, prefix aside');
  t.same(r.again, r.inventory, 'the same list when asked again');
  t.same(other.inventory, r.inventory, 'and from another process');
});

t.test('the inventory reads the driver version', async (t) => {
  t.equal(r.inventory.driverVersion, '580.105.08');
  t.equal(r.at615.driverVersion, '615.0');
});

t.test('GPUs that cannot do MIG, or are in MIG mode without MIG devices, are listed as plain GPUs', async (t) => {
  const shape = (inv: { gpus: { mig: boolean; parent?: number }[] }) => inv.gpus.map((g) => [g.mig, g.parent]);
  t.same(shape(r.unsupported), [[false, undefined], [false, undefined]], 'NVML says MIG is not supported');
  t.same(shape(r.noMigDevices), [[false, undefined], [false, undefined]], 'MIG mode, no MIG device yet');
  t.same(shape(r.mixed), [[false, undefined], [false, undefined], [true, 1]], 'one of each');
});

t.test('a host with more devices than the first reading has room for is listed whole', async (t) => {
  const { gpus } = r.big;
  t.equal(gpus.length, 16 * 8);
  t.same(gpus.filter((g: { mig: boolean }) => !g.mig).map((g: { index: number }) => g.index), Array.from({ length: 16 }, (_, i) => i * 8));
  t.equal(gpus[127].parent, 120);
  t.equal(new Set(gpus.map((g: { uuid: string }) => g.uuid)).size, 128);
});

t.test('a host without NVML gets a one-line reason, from the inventory and from setMemoryLimit', async (t) => {
  for (const e of [none.inventory, none.limit]) {
    t.equal(e.name, 'NativeError');
    t.match(e.error, /^NVML \(libnvidia-ml\.so\.1\) is not available on this host$/);
    t.notMatch(e.error, /\n/);
  }
});

t.test('setMemoryLimit sets and clears the driver limit from R615, and says unavailable before', async (t) => {
  const uuid0 = r.inventory.gpus[0].uuid;
  t.same([r.set580, r.clear580], ['unavailable', 'unavailable'], 'driver 580');
  t.equal(read('580'), undefined, 'nothing was set at 580');
  t.same([r.set615, r.clear615], ['set', 'set'], 'driver 615');
  t.equal(read('615'), `set ${uuid0} ${cg} ${8 * GiB} ${8 * GiB}\nset ${uuid0} ${cg} 0 18446744073709551615\n`,
    'soft = hard = the bytes, then soft 0 and hard the maximum');
  t.same([r.setMig, r.clearMig], ['unavailable', 'unavailable'], 'a MIG device');
  t.equal(read('mig'), undefined, 'nothing was set on a MIG device');
});

t.test('setMemoryLimit refuses an unknown UUID and a relative cgroup path, naming them', async (t) => {
  for (const e of [r.unknown580, r.unknown615]) {
    t.equal(e.name, 'NativeError');
    t.match(e.error, `NVML knows no GPU with the UUID "${missing}"`);
  }
  t.match(r.relative.error, /^the cgroup file "x\/dmem\.max" is not an absolute path; use /);
});

t.test('withHostLock refuses a lock path that is a symbolic link, naming it', async (t) => {
  t.equal(r.symlink.error, `cannot open the lock file "${link}": it is a symbolic link (refused: use a regular file)`);
  t.throws(() => lstatSync(join(dir, 'elsewhere')), 'nothing was created where it points');
});

// The lock: a holder that appends markers to a log around a wait for a line on stdin.
const holderBody = `import { appendFileSync, readSync } from 'node:fs';
  n.withHostLock(process.env.T_LOCK, () => {
    appendFileSync(process.env.T_LOG, process.env.T_ID + ' start\\n');
    console.log('held');
    if (process.env.T_WAIT) readSync(0, Buffer.alloc(1));
    appendFileSync(process.env.T_LOG, process.env.T_ID + ' end\\n');
  });
  console.log('released');`;

const lockFiles = (name: string) => ({ T_LOCK: join(dir, `${name}.lock`), T_LOG: join(dir, `${name}.log`) });
const children: ChildProcess[] = [];
t.teardown(() => children.forEach((c) => c.exitCode === null && c.signalCode === null && c.kill('SIGKILL')));

/** Starts body in a fresh Node; said(word) resolves once its stdout has shown word. */
function start(body: string, extra: Record<string, string>): { child: ChildProcess; said: (word: string) => Promise<void>; exit: Promise<number | null> } {
  const child = spawn(process.execPath, args(body), { env: env(extra), stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(child);
  let out = '';
  const waiters: [string, () => void][] = [];
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    for (const [word, ok] of waiters) if (out.includes(word)) ok();
  });
  return {
    child,
    said: (word) => new Promise((ok) => (out.includes(word) ? ok() : waiters.push([word, ok]))),
    exit: new Promise((ok) => child.on('exit', (code) => ok(code))),
  };
}

const settle = () => new Promise((ok) => setTimeout(ok, 300));

t.test('withHostLock: a second process waits until the first releases', async (t) => {
  const files = lockFiles('wait');
  const a = start(holderBody, { ...files, T_ID: 'A', T_WAIT: '1' });
  await a.said('held');
  const b = start(`console.log('waiting');\n${holderBody}`, { ...files, T_ID: 'B' });
  await b.said('waiting');
  await settle();
  t.equal(readFileSync(files.T_LOG, 'utf8'), 'A start\n', 'B has not entered while A holds the lock');
  a.child.stdin!.end('x');
  t.same(await Promise.all([a.exit, b.exit]), [0, 0]);
  t.equal(readFileSync(files.T_LOG, 'utf8'), 'A start\nA end\nB start\nB end\n', 'B entered after A left');
  t.equal(lstatSync(files.T_LOCK).mode & 0o777, 0o600, 'the lock file is 0600');
});

t.test('withHostLock: rounds of two contending processes never interleave', async (t) => {
  const files = lockFiles('rounds');
  const body = `import { appendFileSync } from 'node:fs';
    const nap = new Int32Array(new SharedArrayBuffer(4));
    for (let i = 0; i < 20; i++) n.withHostLock(process.env.T_LOCK, () => {
      appendFileSync(process.env.T_LOG, process.env.T_ID + ' start\\n');
      Atomics.wait(nap, 0, 0, 3); // inside the lock, long enough for the other to try
      appendFileSync(process.env.T_LOG, process.env.T_ID + ' end\\n');
    });`;
  const runs = ['A', 'B'].map((id) => start(body, { ...files, T_ID: id }));
  t.same(await Promise.all(runs.map((r) => r.exit)), [0, 0]);
  const lines = readFileSync(files.T_LOG, 'utf8').trim().split('\n');
  t.equal(lines.length, 80);
  const pairs = Array.from({ length: 40 }, (_, i) => [lines[2 * i], lines[2 * i + 1]]);
  t.ok(pairs.every(([s, e]) => s!.endsWith(' start') && e === s!.replace(' start', ' end')), 'every start is followed by its own end');
});

t.test('withHostLock: a SIGKILLed holder frees the lock for the one waiting', async (t) => {
  const files = lockFiles('killed');
  const a = start(holderBody, { ...files, T_ID: 'A', T_WAIT: '1' });
  await a.said('held');
  const b = start(`console.log('waiting');\n${holderBody}`, { ...files, T_ID: 'B' });
  await b.said('waiting');
  await settle();
  t.equal(readFileSync(files.T_LOG, 'utf8'), 'A start\n', 'B waits while A holds the lock');
  a.child.kill('SIGKILL');
  await a.exit;
  const timer = setTimeout(() => b.child.kill('SIGKILL'), 10_000);
  t.equal(await b.exit, 0, 'B got the lock and finished');
  clearTimeout(timer);
  t.equal(readFileSync(files.T_LOG, 'utf8'), 'A start\nB start\nB end\n');
});
