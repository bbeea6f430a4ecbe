// The driver's own per-cgroup memory limit (R615+) through the C shim: the fake NVML at a chosen
// driver version records every set, the fake lower runtime records its calls in the same file (so
// their order shows), a temp dir stands for /sys/fs/cgroup, the agent or Node in-process deciding.
import t from 'tap';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeTree } from './fixtures/remove-tree.js';

const REPO = process.cwd();
const GiB = 2 ** 30;
const CLEARED = '0 18446744073709551615'; // soft 0, hard NVML_DEVICE_MEMORY_LIMIT_MAX
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface HostOptions {
  driver?: string;
  /** false: the cgroup root has no cgroup.controllers (cgroup v1). */
  cgroupV2?: boolean;
  mig?: string;
}

interface Host {
  dir: string;
  state: string;
  cgroups: string;
  /** What the lower runtime was asked ("lower ...") and what NVML set ("set ..."), in order. */
  events: () => string[];
  log: () => { container?: string; kernelLimit?: string; outcome?: string; msg: string; gpus?: { uuid: string; result: string }[] }[];
  run: (args: string[], env?: Record<string, string>) => { status: number | null; stderr: string };
  /** the gpumem CLI on the same host */
  cli: (args: string[]) => { status: number | null; stderr: string };
  bundle: (name: string, env: string[], cgroupsPath?: string) => string;
  agent: () => Promise<ChildProcess>;
  uuids: () => string[];
}

function host(t: { teardown: (f: () => void) => void }, opts: HostOptions = {}): Host {
  const dir = mkdtempSync(join(tmpdir(), 'gpumem-klimit-'));
  const state = join(dir, 'state');
  const cgroups = join(dir, 'sys-fs-cgroup');
  const events = join(dir, 'events');
  mkdirSync(join(dir, 'bin'), { recursive: true });
  mkdirSync(join(dir, 'etc'));
  mkdirSync(state);
  mkdirSync(cgroups);
  if (opts.cgroupV2 !== false) writeFileSync(join(cgroups, 'cgroup.controllers'), 'cpuset cpu io memory pids dmem\n');
  const shim = join(dir, 'bin', 'gpumem-runtime');
  copyFileSync(join(REPO, 'native/build/gpumem-runtime'), shim);
  const lower = join(dir, 'bin', 'lower');
  writeFileSync(lower, `#!/bin/sh\necho "lower $*" >>${events}\nfor a; do [ "$a" = state ] && exit \${LOWER_STATE_RC:-1}; [ "$a" = delete ] && exit \${LOWER_DELETE_RC:-0}; done\nexit 0\n`, { mode: 0o755 });
  writeFileSync(join(dir, 'etc', 'gpumem-runtime.conf'), `lower ${lower}\nnode ${process.execPath}\napp ${REPO}\nstate ${state}\n`);
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    GPUMEM_STATE_ROOT: state,
    GPUMEM_LOG_FILE: join(dir, 'gpumem.log'),
    GPUMEM_CGROUP_ROOT: cgroups,
    LD_LIBRARY_PATH: join(REPO, 'native/build/fake'),
    FAKE_NVML_DEVICE_MEMS: '24g,40g,80g',
    FAKE_NVML_DRIVER_VERSION: opts.driver ?? '615.20.01',
    FAKE_NVML_MEMORY_LIMITS_LOG: events,
    ...(opts.mig ? { FAKE_NVML_MIG: opts.mig } : {}),
  };
  const children: ChildProcess[] = [];
  t.teardown(() => {
    for (const c of children) c.kill('SIGKILL');
    removeTree(dir);
  });
  const read = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8') : '');
  return {
    dir,
    state,
    cgroups,
    events: () => read(events).trim().split('\n').filter(Boolean),
    log: () => read(join(dir, 'gpumem.log')).trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)),
    run: (args, extra = {}) => {
      const r = spawnSync(shim, args, { env: { ...env, ...extra }, encoding: 'utf8', timeout: 20_000 });
      return { status: r.status, stderr: r.stderr };
    },
    cli: (args) => {
      const r = spawnSync(process.execPath, [join(REPO, 'dist/hook/gpumem.js'), ...args], { env, encoding: 'utf8', timeout: 20_000 });
      return { status: r.status, stderr: r.stderr };
    },
    bundle: (name, procEnv, cgroupsPath = `/docker/${name}`) => {
      const b = join(dir, name);
      mkdirSync(b);
      const spec = {
        ociVersion: '1.2.0',
        root: { path: 'rootfs' },
        process: { args: ['true'], env: ['PATH=/bin', ...procEnv] },
        hooks: { createRuntime: [{ path: '/usr/bin/nvidia-cdi-hook', args: ['nvidia-cdi-hook'] }] },
        annotations: { 'gpumem.io/limit': '50%' },
        linux: { ...(cgroupsPath ? { cgroupsPath } : {}), namespaces: [{ type: 'pid' }] },
      };
      writeFileSync(join(b, 'config.json'), JSON.stringify(spec));
      return b;
    },
    agent: async () => {
      const c = spawn(process.execPath, [join(REPO, 'dist/hook/gpumem.js'), 'agent'], { env, stdio: 'ignore' });
      children.push(c);
      for (let i = 0; i < 100 && !existsSync(join(state, 'agent.sock')); i++) await sleep(50);
      await sleep(100); // its mode is set a moment after the socket appears
      return c;
    },
    uuids: () => (JSON.parse(read(join(state, 'inventory.json'))) as { gpus: { uuid: string }[] }).gpus.map((g) => g.uuid),
  };
}

const marker = (h: Host, id: string) => existsSync(join(h.state, id, 'kernel-limit'));

for (const agent of [true, false]) {
  const how = agent ? 'with the agent' : 'with no agent (in-process)';
  t.test(`${how}, at R615 on cgroup v2: each budgeted GPU's limit is set on the container's cgroup after runc's create, and cleared before runc's delete`, async (t) => {
    const h = host(t);
    if (agent) await h.agent();
    const b = h.bundle('c1', ['NVIDIA_VISIBLE_DEVICES=2,0']);
    const created = h.run(['create', '--bundle', b, 'c1']);
    t.equal(created.status, 0, created.stderr);
    t.ok(marker(h, 'c1'), 'the decision left the marker for the shim');
    const [gpu0, , gpu2] = h.uuids();
    const cgroup = join(h.cgroups, 'docker', 'c1');
    t.same(h.events(), [
      `lower create --bundle ${b} c1`,
      `set ${gpu0} ${cgroup} ${12 * GiB} ${12 * GiB}`,
      `set ${gpu2} ${cgroup} ${40 * GiB} ${40 * GiB}`,
    ], "once runc made the cgroup: soft = hard = the GPU's budget, on the container's own cgroup");
    t.equal(h.run(['delete', 'c1']).status, 0);
    t.same(h.events().slice(3), [`set ${gpu0} ${cgroup} ${CLEARED}`, `set ${gpu2} ${cgroup} ${CLEARED}`, 'lower delete c1'], 'cleared while the cgroup is still there, then runc deletes it');
    t.notOk(existsSync(join(h.state, 'c1')), 'the state is gone as before');
    const lines = h.log().filter((l) => l.kernelLimit);
    t.same(lines.map((l) => [l.container, l.kernelLimit, l.outcome, l.msg]), [
      ['c1', 'set', 'set', 'kernel memory limit set'],
      ['c1', 'clear', 'cleared', 'kernel memory limit cleared'],
    ], 'one log line per container and step');
    t.equal(h.log().some((l) => /agent not answering/.test(l.msg)), !agent, agent ? 'the agent did it' : 'Node did it in-process');
  });
}

t.test('gpumem update sets the kernel limit to the new budget too', async (t) => {
  const h = host(t);
  await h.agent();
  const b = h.bundle('c9', ['NVIDIA_VISIBLE_DEVICES=0']);
  t.equal(h.run(['create', '--bundle', b, 'c9']).status, 0);
  const u = h.cli(['update', 'c9', '--limit', '8g']);
  t.equal(u.status, 0, u.stderr);
  const [gpu0] = h.uuids();
  t.same(h.events().slice(-1), [`set ${gpu0} ${join(h.cgroups, 'docker', 'c9')} ${8 * GiB} ${8 * GiB}`], 'soft = hard = the 8 GiB now');
});

t.test('at driver 580 nothing is set or cleared, and no marker is left', async (t) => {
  const h = host(t, { driver: '580.105.08' });
  await h.agent();
  const b = h.bundle('c2', ['NVIDIA_VISIBLE_DEVICES=0']);
  t.equal(h.run(['create', '--bundle', b, 'c2']).status, 0);
  t.ok(existsSync(join(h.state, 'c2', 'config', 'gpumem.conf')), 'the budget is set as always');
  t.notOk(marker(h, 'c2'), 'no marker');
  t.equal(h.run(['delete', 'c2']).status, 0);
  t.same(h.events(), [`lower create --bundle ${b} c2`, 'lower delete c2'], 'NVML was never asked for a limit');
  t.same(h.log().filter((l) => l.kernelLimit), [], 'and nothing about it logged');
});

t.test('a MIG device gets no kernel limit: beside a whole GPU it is skipped, alone the container gets no marker', async (t) => {
  const h = host(t, { mig: '1=10g+20g' });
  await h.agent();
  const mixed = h.bundle('c3', ['NVIDIA_VISIBLE_DEVICES=0,1:0']);
  t.equal(h.run(['create', '--bundle', mixed, 'c3']).status, 0);
  t.ok(marker(h, 'c3'));
  const uuids = h.uuids();
  const mig = uuids.find((u) => u.startsWith('MIG-')) as string;
  t.same(h.events().slice(1), [`set ${uuids[0]} ${join(h.cgroups, 'docker', 'c3')} ${12 * GiB} ${12 * GiB}`], 'only the whole GPU');
  const line = h.log().find((l) => l.kernelLimit === 'set');
  t.same(line?.gpus?.map((g) => [g.uuid, g.result]), [[uuids[0], 'set'], [mig, 'skipped']], 'the MIG device is logged as skipped');
  const migOnly = h.bundle('c4', ['NVIDIA_VISIBLE_DEVICES=1:1']);
  t.equal(h.run(['create', '--bundle', migOnly, 'c4']).status, 0);
  t.ok(existsSync(join(h.state, 'c4', 'config', 'gpumem.conf')));
  t.notOk(marker(h, 'c4'), 'a container on a MIG device alone: no marker');
  t.equal(h.events().length, 3, 'nothing set for it');
});

t.test('no marker on cgroup v1, nor where the container\'s cgroup cannot be told from its spec', async (t) => {
  const v1 = host(t, { cgroupV2: false });
  await v1.agent();
  t.equal(v1.run(['create', '--bundle', v1.bundle('c5', ['NVIDIA_VISIBLE_DEVICES=0']), 'c5']).status, 0);
  t.ok(existsSync(join(v1.state, 'c5', 'config', 'gpumem.conf')));
  t.notOk(marker(v1, 'c5'), 'cgroup v1: no marker');
  t.same(v1.events().filter((e) => e.startsWith('set ')), [], 'and nothing set');
  const v2 = host(t);
  await v2.agent();
  t.equal(v2.run(['create', '--bundle', v2.bundle('c6', ['NVIDIA_VISIBLE_DEVICES=0'], ''), 'c6']).status, 0);
  t.notOk(marker(v2, 'c6'), 'no cgroupsPath: no marker');
  t.same(v2.events().filter((e) => e.startsWith('set ')), []);
});

t.test('a delete that fails on a live container sets the limit again: it keeps its backstop', async (t) => {
  const h = host(t);
  await h.agent();
  const b = h.bundle('c7', ['NVIDIA_VISIBLE_DEVICES=0']);
  t.equal(h.run(['create', '--bundle', b, 'c7']).status, 0);
  const [gpu0] = h.uuids();
  const cgroup = join(h.cgroups, 'docker', 'c7');
  t.equal(h.run(['delete', 'c7'], { LOWER_DELETE_RC: '1', LOWER_STATE_RC: '0' }).status, 1, "the lower runtime's failure is the shim's");
  t.same(h.events().slice(2), [`set ${gpu0} ${cgroup} ${CLEARED}`, 'lower delete c7', 'lower state c7', `set ${gpu0} ${cgroup} ${12 * GiB} ${12 * GiB}`]);
  t.ok(marker(h, 'c7'), 'its state stays');
});

t.test('a limit that cannot be set does not fail the start, nor one that cannot be cleared the delete', async (t) => {
  const h = host(t);
  // This boot's inventory names a GPU NVML does not know (gone since): every set of it fails.
  const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  const gone = 'GPU-deadbeef-0000-0000-0000-000000000000';
  writeFileSync(join(h.state, 'inventory.json'), JSON.stringify({ bootId: boot, driverVersion: '615.20.01', gpus: [{ index: 0, uuid: gone, totalBytes: 24 * GiB, minor: 0, mig: false }] }));
  await h.agent();
  const b = h.bundle('c8', ['NVIDIA_VISIBLE_DEVICES=0']);
  const created = h.run(['create', '--bundle', b, 'c8']);
  t.equal(created.status, 0, 'the container starts: the interposer still enforces its budget');
  t.match(created.stderr, new RegExp(`gpumem: the kernel memory limit of container c8 was not set on ${gone} \\(NVML knows no GPU with the UUID "${gone}"`), 'a person sees why, in one line');
  const deleted = h.run(['delete', 'c8']);
  t.equal(deleted.status, 0, 'the delete goes through');
  t.match(deleted.stderr, /kernel memory limit of container c8 was not cleared/);
  t.same(h.events(), [`lower create --bundle ${b} c8`, 'lower delete c8']);
  t.notOk(existsSync(join(h.state, 'c8')), 'and its state is gone');
  t.same(h.log().filter((l) => l.kernelLimit).map((l) => [l.container, l.kernelLimit, l.outcome]), [['c8', 'set', 'failed'], ['c8', 'clear', 'failed']], 'both failures are lines of the log');
});

t.test('the agent refuses a malformed kernel-limit request in one line, and one for a container it never prepared', async (t) => {
  const h = host(t);
  await h.agent();
  const ask = (request: string) =>
    new Promise<string>((resolve) => {
      let answer = '';
      const s = connect(join(h.state, 'agent.sock'), () => s.end(request));
      s.on('data', (d) => (answer += d));
      s.on('close', () => resolve(answer));
    });
  t.equal(await ask('gpumem-kernel-limit/1\0frob\0c9\0'), 'refused gpumem: bad request to the gpumem agent: unknown kernel limit operation "frob"; expected set or clear\n');
  t.equal(await ask('gpumem-kernel-limit/1\0set\0'), 'refused gpumem: bad request to the gpumem agent: a gpumem-kernel-limit/1 request carries set or clear and a container id; this one has 1 field\n');
  t.match(await ask('gpumem-kernel-limit/1\0set\0nobody\0'), /^refused gpumem: the kernel memory limit of container nobody was not set: it has no readable host record \(.*\); gpumem did not prepare it, or its state was removed\n$/);
  t.same(h.events(), [], 'NVML was not asked');
});
