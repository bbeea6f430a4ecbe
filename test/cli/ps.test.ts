import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAccounting, writeConfig } from '../../lib/ffi/native.js';

const GiB = 2 ** 30;

function gpumem(root: string, ...args: string[]) {
  return spawnSync(process.execPath, ['dist/hook/gpumem.js', ...args], {
    env: { ...process.env, GPUMEM_STATE_ROOT: root },
    encoding: 'utf8',
  });
}

function container(root: string, id: string, limit: number, perGpu: [number, number][] = []): void {
  const dir = join(root, id);
  mkdirSync(join(dir, 'config'), { recursive: true });
  mkdirSync(join(dir, 'shared'));
  writeConfig(join(dir, 'config', 'gpumem.conf'), { all: limit, perGpu: new Map(perGpu) });
  createAccounting(join(dir, 'shared', 'accounting'));
}

t.test('gpumem ps lists each limited container with its budget, like docker ps', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'gpumem-ps-'));
  container(root, 'a'.repeat(64), 8 * GiB);
  container(root, 'b'.repeat(64), 4 * GiB, [[1, 2 * GiB]]);
  const r = gpumem(root, 'ps');
  t.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  t.match(lines[0], /^CONTAINER ID\s+NAME\s+GPU\s+UUID\s+BUDGET\s+USED\s+DRIVER\s+PEAK\s+REFUSED\s+PIDS\s+STATUS$/);
  t.match(lines[1], /^a{12}\s+-\s+all\s+-\s+8GiB\s+0B\s+0B\s+-\s+0\s+0\s+ok$/, 'ids are cut to 12 characters as docker does; no name or UUID known; no peak for all GPUs together, nothing refused');
  t.match(lines[2], /^b{12}\s+-\s+1\s+-\s+2GiB\s+0B\s+0B\s+0B\s+0\s+0\s+ok$/, 'a per-GPU limit gets its own row, with its peak');
  t.ok(lines.every((l) => l.length <= 80), 'within 80 columns');
  const json = gpumem(root, 'ps', '--format', 'json');
  const rows = json.stdout.trim().split('\n').map((l) => JSON.parse(l));
  t.same(rows[0], { container: 'a'.repeat(64), name: null, gpu: 'all', uuid: null, limit: 8 * GiB, used: 0, regionUsed: 0, hostUsed: null, driverTaken: 0, peak: null, refused: 0, processes: 0, driverSeen: true, tampering: false },
    'a container with no host record (made by hand here) has no host figure and is not flagged');
});

t.test('gpumem ps reports a container whose accounting region was scribbled on, and goes on', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'gpumem-ps-'));
  container(root, 'c'.repeat(64), GiB);
  container(root, 'd'.repeat(64), GiB);
  writeFileSync(join(root, 'c'.repeat(64), 'shared', 'accounting'), 'garbage');
  const r = gpumem(root, 'ps', '--format', 'json');
  t.equal(r.status, 0);
  const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  t.equal(rows.length, 2);
  t.match(rows[0].error, /accounting/, 'the bad region is named');
  t.equal(rows[1].limit, GiB, 'the next container is still listed');
});

t.test('gpumem ps with nothing limited prints only the header', async (t) => {
  const r = gpumem(mkdtempSync(join(tmpdir(), 'gpumem-ps-')), 'ps');
  t.equal(r.stdout, 'CONTAINER ID  NAME  GPU  UUID  BUDGET  USED  DRIVER  PEAK  REFUSED  PIDS  STATUS\n');
});

// A process of the container, against the fake driver: it takes memory outside any allocation
// call (as a real driver does for code) and holds it while ps looks.
const build = join(import.meta.dirname, '../../native/build');
function holder(dir: string, extra: Record<string, string>) {
  const env: Record<string, string> = { ...(process.env as Record<string, string>), LD_LIBRARY_PATH: join(build, 'fake'),
    LD_PRELOAD: join(build, 'libgpumem.so'), GPUMEM_STATE_DIR: dir, ...extra };
  delete env.GPUMEM_LIMIT;
  const child = spawn(join(build, 'tests', 'driver-taken-probe'), ['alloc', '8m', 'take', '4m', 'sleep', '20000'], { env, stdio: 'ignore' });
  return child;
}

for (const [what, extra, driver, status] of [
  ['shows the memory the driver took on its own', {}, '4MiB', 'ok'],
  ['says when NVML cannot show a process\'s driver-taken memory', { FAKE_NVML_HIDE_PIDS: '1' }, '0B', 'ok, driver-taken memory not seen'],
] as const) {
  t.test(`gpumem ps ${what}`, async (t) => {
    const root = mkdtempSync(join(tmpdir(), 'gpumem-ps-'));
    const id = 'e'.repeat(64);
    container(root, id, GiB);
    // A complete state (a host record naming no runtime root): never taken for a leftover, however slow the machine.
    writeFileSync(join(root, id, 'host.json'), JSON.stringify({ cgroupsPath: null, cgroup: null, visibleDevices: null, runtimeRoot: null }));
    const child = holder(join(root, id), extra);
    t.teardown(() => child.kill('SIGKILL'));
    await new Promise((r) => setTimeout(r, 800)); // past a reconcile tick
    const rows = gpumem(root, 'ps', '--format', 'json').stdout.trim().split('\n').map((l) => JSON.parse(l));
    t.equal(rows[0].used, 8 * 2 ** 20 + (driver === '4MiB' ? 4 * 2 ** 20 : 0), 'used includes driver-taken memory');
    const table = gpumem(root, 'ps').stdout.trimEnd().split('\n');
    // 81 columns with the status beside the rest: the row goes without it, and only what is not ok is told under the table.
    t.match(table[1], new RegExp(`^e{12}\\s+-\\s+0\\s+-\\s+1GiB\\s+\\S+\\s+${driver}\\s+\\d+MiB\\s+0\\s+1$`), 'its peak (what it holds) and no refusal');
    t.equal(table[2], status === 'ok' ? undefined : `${'e'.repeat(12)} GPU 0: ${status}`);
    t.ok(table.every((l) => l.length <= 80), 'within 80 columns');
  });
}
