// gpumem ps shows what the host sees, not only what a container's region says: containers made by
// the create step (no Docker), their fake-driver processes moved into a real cgroup on this host,
// the fake NVML listing them under host pids as the real driver does. A container that zeroes
// its region is flagged, in the table, the JSON and the log; an honest one is not.
import t from 'tap';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MiB, accountingUsage, envFor, program, scribbleRegion } from './fixtures/native.js';
import { removeTree } from './fixtures/remove-tree.js';

const CG = '/sys/fs/cgroup';
// A v1 hierarchy and the unified (v2) one, where this host has them: hybrid (v1 + unified/) or pure v2.
const v1 = existsSync(join(CG, 'pids', 'cgroup.procs')) ? join(CG, 'pids') : null;
const v2 = existsSync(join(CG, 'unified', 'cgroup.procs')) ? join(CG, 'unified') : existsSync(join(CG, 'cgroup.procs')) ? CG : null;
const skip = process.getuid?.() !== 0 ? 'needs root to make cgroups' : !v1 && !v2 ? 'no cgroup hierarchy to use' : false;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const tag = `gpumemtest${process.pid}`;

type T = { teardown: (f: () => void | Promise<void>) => void };
interface Container { id: string; dir: string; cgroupsPath: string; cgroupDir: string; processes: ChildProcess[] }

/** A container as the create step leaves it, and the real cgroup runc would have made for it. */
function create(t: T, root: string, id: string, cgroupsPath: string, hostPath: string, hierarchy: string): Container {
  const bundle = mkdtempSync(join(tmpdir(), 'gpumem-bundle-'));
  t.teardown(() => rmSync(bundle, { recursive: true, force: true }));
  writeFileSync(join(bundle, 'config.json'), JSON.stringify({
    ociVersion: '1.2.0', process: { args: ['true'], env: ['NVIDIA_VISIBLE_DEVICES=0'] }, root: { path: 'rootfs' },
    annotations: { 'gpumem.io/limit': '64m' }, linux: { cgroupsPath },
  }));
  const code = `import { create } from './dist/lib/runtime/create.js';
    const o = create(process.argv.slice(1), process.cwd()); console.log(JSON.stringify({ ok: o.ok, message: o.ok ? undefined : o.message }));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code, '--', 'create', '--bundle', bundle, id], {
    env: { PATH: process.env.PATH ?? '', LD_LIBRARY_PATH: 'native/build/fake', GPUMEM_STATE_ROOT: root, GPUMEM_LOG_FILE: join(root, '..', 'create.log') },
    encoding: 'utf8',
  });
  if (!JSON.parse(r.stdout).ok) throw new Error(`create failed: ${r.stdout}${r.stderr}`);
  const c: Container = { id, dir: join(root, id), cgroupsPath, cgroupDir: join(hierarchy, hostPath), processes: [] };
  mkdirSync(c.cgroupDir, { recursive: true });
  t.teardown(async () => {
    // A cgroup can go once its processes have; then the directories made for it, innermost first.
    await Promise.all(c.processes.map((p) => {
      p.kill('SIGKILL');
      return new Promise((r) => (p.exitCode !== null || p.signalCode !== null ? r(null) : p.once('exit', r)));
    }));
    for (let p = c.cgroupDir; p !== hierarchy; p = join(p, '..')) {
      try { rmdirSync(p); } catch { /* still another container's, or gone */ }
    }
  });
  return c;
}

/** A process of the container: the fake driver under the interposer, moved into its cgroup, publishing its use. */
function run(c: Container, shared: string | null, args: string[]): void {
  const child = spawn(program('driver-taken-probe'), [...args, 'sleep', '30000'],
    { env: envFor({ extra: { GPUMEM_STATE_DIR: c.dir, ...(shared ? { FAKE_CUDA_SHARED: shared } : {}) } }), stdio: 'ignore' });
  c.processes.push(child);
  writeFileSync(join(c.cgroupDir, 'cgroup.procs'), String(child.pid));
}

async function regionSays(c: Container, bytes: number) {
  const accounting = join(c.dir, 'shared', 'accounting');
  for (let i = 0; i < 100 && accountingUsage(accounting).used?.[0] !== bytes; i++) await sleep(25);
  return accountingUsage(accounting).used?.[0];
}

function ps(root: string, shared: string, log: string, ...args: string[]) {
  return spawnSync(process.execPath, ['dist/hook/gpumem.js', 'ps', ...args], {
    env: { PATH: process.env.PATH ?? '', LD_LIBRARY_PATH: 'native/build/fake', FAKE_CUDA_SHARED: shared, GPUMEM_STATE_ROOT: root, GPUMEM_LOG_FILE: log },
    encoding: 'utf8',
  });
}

t.test('a container that zeroes its region is shown with what NVML sees it hold and flagged as tampering; an honest one is not', { skip }, async (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'gpumem-truth-'));
  t.teardown(() => removeTree(tmp)); // each region is on its own tmpfs
  const root = join(tmp, 'state');
  const shared = join(tmp, 'fake-driver-shared');
  const log = join(tmp, 'gpumem.log');
  t.equal(spawnSync(program('storm'), ['--init-shared', shared]).status, 0);

  // runc's two forms, each in a hierarchy this host has: cgroupfs in v1, systemd's scope in v2.
  const liar = 'a'.repeat(64);
  const honest = 'b'.repeat(64);
  const forms = [
    { id: liar, cgroupsPath: `/${tag}/${liar}`, hostPath: `/${tag}/${liar}`, hierarchy: v1 ?? v2 },
    { id: honest, cgroupsPath: `${tag}.slice:docker:${honest}`, hostPath: `/${tag}.slice/docker-${honest}.scope`, hierarchy: v2 ?? v1 },
  ];
  const [bad, good] = forms.map((f) => create(t, root, f.id, f.cgroupsPath, f.hostPath, f.hierarchy as string)) as [Container, Container];
  const record = JSON.parse(readFileSync(join(good.dir, 'host.json'), 'utf8'));
  t.match(record.gpus, [{ uuid: /^GPU-[0-9a-f-]{36}$/, bytes: /^[1-9]\d*$/ }], 'and its GPU by UUID with its budget (its ledger entry)');
  t.same({ ...record, gpus: undefined },
    { cgroupsPath: good.cgroupsPath, cgroup: `/${tag}.slice/docker-${honest}.scope`, visibleDevices: '0', runtimeRoot: null, gpus: undefined },
    'the create step records where the container\'s processes will be and which GPU it sees');

  // Three processes of the liar each take 60 MiB of its 64 MiB budget, the region zeroed before each.
  for (let i = 0; i < 3; i++) {
    if (i > 0) scribbleRegion(join(bad.dir, 'shared', 'accounting'), 'used.0', 0);
    run(bad, shared, ['alloc', '60m']);
    t.equal(await regionSays(bad, 60 * MiB), 60 * MiB, `process ${i + 1} got its 60 MiB`);
  }
  run(good, shared, ['alloc', '8m', 'take', '4m']);
  t.equal(await regionSays(good, 12 * MiB), 12 * MiB);

  const rows = ps(root, shared, log, '--format', 'json').stdout.trim().split('\n').map((l) => JSON.parse(l));
  const [badRow, goodRow] = [liar, honest].map((id) => rows.find((r) => r.container === id));
  t.match(badRow, { gpu: '0', limit: 64 * MiB, used: 180 * MiB, regionUsed: 60 * MiB, hostUsed: 180 * MiB, tampering: true },
    'USED is what the host sees: 180 MiB under a 64 MiB budget, the region says 60');
  t.match(goodRow, { gpu: '0', used: 12 * MiB, regionUsed: 12 * MiB, hostUsed: 12 * MiB, tampering: false });

  const table = ps(root, shared, join(tmp, 'second.log')).stdout.trimEnd().split('\n');
  // 80 columns: the status goes under the table, for the row that is not ok.
  t.match(table[1], /^a{12}\s+-\s+0\s+GPU-\S+\s+64MiB\s+180MiB\s+0B\s+60MiB\s+0\b/, "the peak is what its region reports (a report, never proof)");
  t.match(table[2], /^b{12}\s+-\s+0\s+GPU-\S+\s+64MiB\s+12MiB\s+4MiB\s+\d+MiB\s+0\b/);
  t.equal(table[3], `${'a'.repeat(12)} GPU 0: TAMPERING: region says 60MiB`);

  const warnings = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  t.equal(warnings.length, 1, 'one log line for the one finding');
  t.match(warnings[0], { level: 40, container: liar, gpu: 0, regionUsed: 60 * MiB, hostUsed: 180 * MiB, msg: /^tampering: / });
});

t.test('without NVML on the host, gpumem ps shows the region as before and flags nothing', { skip }, async (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'gpumem-truth-'));
  t.teardown(() => removeTree(tmp)); // each region is on its own tmpfs
  const root = join(tmp, 'state');
  const c = create(t, root, 'c'.repeat(64), `/${tag}/${'c'.repeat(64)}`, `/${tag}/${'c'.repeat(64)}`, (v1 ?? v2) as string);
  run(c, null, ['alloc', '8m']);
  await regionSays(c, 8 * MiB);
  scribbleRegion(join(c.dir, 'shared', 'accounting'), 'used.0', 0);
  const r = spawnSync(process.execPath, ['dist/hook/gpumem.js', 'ps', '--format', 'json'],
    { env: { PATH: process.env.PATH ?? '', GPUMEM_STATE_ROOT: root, GPUMEM_LOG_FILE: join(tmp, 'gpumem.log') }, encoding: 'utf8' });
  t.match(JSON.parse(r.stdout), { used: 0, regionUsed: 0, hostUsed: null, tampering: false });
  t.notOk(existsSync(join(tmp, 'gpumem.log')), 'nothing logged');
});
