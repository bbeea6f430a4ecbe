// gpumem-runtime (the C shim) on its own: a fake lower runtime that records what it is asked,
// the agent or the in-process fallback deciding, state under a temp root.
import t from 'tap';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { mountsUnder, removeTree } from './fixtures/remove-tree.js';
import { join } from 'node:path';
import { containerPaths } from '../../lib/layout.js';

const REPO = process.cwd();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Host {
  dir: string;
  shim: string;
  state: string;
  calls: () => string[];
  log: () => string;
  run: (args: string[], env?: Record<string, string>) => { status: number | null; stderr: string };
  bundle: (name: string, spec: object) => string;
  agent: () => Promise<ChildProcess>;
}

function host(t: { teardown: (f: () => void) => void }): Host {
  const dir = mkdtempSync(join(tmpdir(), 'gpumem-shim-'));
  const state = join(dir, 'state');
  mkdirSync(join(dir, 'bin'), { recursive: true });
  mkdirSync(join(dir, 'etc'));
  mkdirSync(state);
  const shim = join(dir, 'bin', 'gpumem-runtime');
  copyFileSync(join(REPO, 'native/build/gpumem-runtime'), shim);
  // The lower runtime: records its argv; `state` answers LOWER_STATE_RC (1: unknown container).
  const lower = join(dir, 'bin', 'lower');
  writeFileSync(lower, `#!/bin/sh\necho "$*" >>${dir}/calls\nfor a; do [ "$a" = state ] && exit \${LOWER_STATE_RC:-1}; [ "$a" = create ] && exit \${LOWER_CREATE_RC:-0}; [ "$a" = delete ] && exit \${LOWER_DELETE_RC:-0}; done\nexit 0\n`, { mode: 0o755 });
  writeFileSync(join(dir, 'etc', 'gpumem-runtime.conf'), `lower ${lower}\nnode ${process.execPath}\napp ${REPO}\nstate ${state}\n`);
  const env = { PATH: process.env.PATH ?? '', GPUMEM_STATE_ROOT: state, GPUMEM_LOG_FILE: join(dir, 'gpumem.log'), LD_LIBRARY_PATH: join(REPO, 'native/build/fake') };
  const children: ChildProcess[] = [];
  t.teardown(() => {
    for (const c of children) c.kill('SIGKILL');
    removeTree(dir);
  });
  return {
    dir,
    shim,
    state,
    calls: () => (existsSync(join(dir, 'calls')) ? readFileSync(join(dir, 'calls'), 'utf8').trim().split('\n') : []),
    log: () => (existsSync(join(dir, 'gpumem.log')) ? readFileSync(join(dir, 'gpumem.log'), 'utf8') : ''),
    run: (args, extra = {}) => {
      const r = spawnSync(shim, args, { env: { ...env, ...extra }, encoding: 'utf8' });
      return { status: r.status, stderr: r.stderr };
    },
    bundle: (name, spec) => {
      const b = join(dir, name);
      mkdirSync(b);
      writeFileSync(join(b, 'config.json'), JSON.stringify(spec));
      return b;
    },
    agent: async () => {
      const c = spawn(process.execPath, [join(REPO, 'dist/hook/gpumem.js'), 'agent'], { env, stdio: 'ignore' });
      children.push(c);
      for (let i = 0; i < 100 && !existsSync(join(state, 'agent.sock')); i++) await sleep(50);
      return c;
    },
  };
}

const limited = { ociVersion: '1.2.0', root: { path: 'rootfs' }, process: { env: [] }, annotations: { 'gpumem.io/limit': '64m' } };

t.test('every call but create, delete and a limited container\'s exec goes to the lower runtime unchanged, and decides nothing', async (t) => {
  const h = host(t);
  t.equal(h.run(['--root', '/r', '--log', '/l', 'start', 'c1']).status, 0);
  t.equal(h.run(['kill', 'c1', 'KILL']).status, 0);
  const proc = join(h.dir, 'p.json');
  const process = { args: ['sh'], env: ['PATH=/bin'], capabilities: { bounding: ['CAP_SYS_CHROOT'] } };
  writeFileSync(proc, JSON.stringify(process));
  t.equal(h.run(['exec', '--process', proc, '--detach', 'c1']).status, 0);
  t.same(h.calls(), ['--root /r --log /l start c1', 'kill c1 KILL', `exec --process ${proc} --detach c1`]);
  t.same(JSON.parse(readFileSync(proc, 'utf8')), process, "an unlimited container's exec'd process is untouched");
  t.equal(h.log(), '', 'no decision was made');
});

t.test('a create whose spec neither names a gpumem key nor can give a GPU is passed on without a decision', async (t) => {
  const h = host(t);
  const b = h.bundle('b', { ociVersion: '1.2.0', root: { path: '/var/lib/gpumem-test/gpumem-rootfs' }, process: { env: ['IMAGE=gpumem-test'] }, linux: { devices: [{ path: '/dev/fuse' }] } });
  t.equal(h.run(['create', '--bundle', b, 'c2']).status, 0);
  t.same(h.calls(), [`create --bundle ${b} c2`]);
  t.equal(h.log(), '', 'neither the agent nor Node was asked');
});

t.test('a create that may give a GPU (NVIDIA_VISIBLE_DEVICES, a /dev/nvidia node) without any gpumem key is decided, for the host policy', async (t) => {
  const h = host(t);
  await h.agent();
  for (const [name, spec] of [
    ['env', { process: { env: ['NVIDIA_VISIBLE_DEVICES=all'] } }],
    ['cdi', { process: { env: ['NVIDIA_VISIBLE_DEVICES=void'] }, linux: { devices: [{ path: '/dev/nvidia0', type: 'c', major: 195, minor: 0 }] } }],
  ] as const) {
    const b = h.bundle(`b-${name}`, { ociVersion: '1.2.0', root: { path: 'rootfs' }, ...spec });
    t.equal(h.run(['create', '--bundle', b, `c-${name}`]).status, 0);
  }
  t.equal((h.log().match(/"outcome":"passed"/g) ?? []).length, 2, 'the agent decided both (no policy here: passed)');
});

t.test('a limited create with the agent running: decided, state made, then the lower runtime creates it', async (t) => {
  const h = host(t);
  await h.agent();
  const b = h.bundle('b', limited);
  t.equal(h.run(['create', '--bundle', b, 'c3']).status, 0);
  t.ok(existsSync(join(h.state, 'c3', 'config', 'gpumem.conf')), 'the config is written');
  t.same(h.calls(), [`create --bundle ${b} c3`]);
  t.notMatch(h.log(), /not answering/, 'the agent decided');
  t.match(h.log(), /budget set/);
});

t.test('a limited create with no agent: decided in-process, the same way', async (t) => {
  const h = host(t);
  const b = h.bundle('b', limited);
  t.equal(h.run(['create', '--bundle', b, 'c4']).status, 0);
  t.ok(existsSync(join(h.state, 'c4', 'config', 'gpumem.conf')));
  t.match(h.log(), /agent not answering: deciding in-process/);
});

t.test('a refused create never reaches the lower runtime and leaves nothing', async (t) => {
  const h = host(t);
  await h.agent();
  const b = h.bundle('b', { ...limited, annotations: { 'gpumem.io/limit': '12parsecs' } });
  const r = h.run(['--log', join(h.dir, 'runc.log'), 'create', '--bundle', b, 'c5']);
  t.equal(r.status, 1);
  t.match(r.stderr, /gpumem: annotation gpumem\.io\/limit="12parsecs" is not a valid limit/);
  t.same(h.calls(), []);
  t.notOk(existsSync(join(h.state, 'c5')));
});

t.test("a create the lower runtime fails leaves no state, unless the id is a live container's", async (t) => {
  const h = host(t);
  await h.agent();
  t.equal(h.run(['create', '--bundle', h.bundle('b1', limited), 'c6'], { LOWER_CREATE_RC: '1' }).status, 1);
  t.notOk(existsSync(join(h.state, 'c6')), 'runc made no container: state gone');
  t.equal(h.run(['create', '--bundle', h.bundle('b2', limited), 'c7'], { LOWER_CREATE_RC: '1', LOWER_STATE_RC: '0' }).status, 1);
  t.ok(existsSync(join(h.state, 'c7')), 'runc knows the id (a live container): its state is left alone');
});

t.test('delete removes the state once the lower runtime no longer knows the container', async (t) => {
  const h = host(t);
  await h.agent();
  t.equal(h.run(['create', '--bundle', h.bundle('b', limited), 'c8']).status, 0);
  t.equal(h.run(['delete', 'c8'], { LOWER_DELETE_RC: '1', LOWER_STATE_RC: '0' }).status, 1);
  t.ok(existsSync(join(h.state, 'c8')), 'a delete that failed on a live container keeps its state');
  t.same(mountsUnder(join(h.state, 'c8')), [join(h.state, 'c8', 'shared')], "the region's own tmpfs is mounted while it lives");
  t.equal(h.run(['delete', '--force', 'c8']).status, 0);
  t.notOk(existsSync(join(h.state, 'c8')), 'deleted: state gone');
  t.same(mountsUnder(h.state), [], 'and its tmpfs unmounted');
  t.same(h.calls().slice(1), ['delete c8', 'state c8', 'delete --force c8'], 'the failed delete was checked with state; the second went through');
});

t.test('an id runc would refuse is passed on untouched, never used as a path', async (t) => {
  const h = host(t);
  t.equal(h.run(['delete', '../state']).status, 0);
  t.ok(existsSync(h.state), 'nothing outside the state root is removed');
  t.same(h.calls(), ['delete ../state']);
});

t.test("a limited container's exec'd process gets LD_PRELOAD and loses CAP_SYS_CHROOT, with the agent or without; a broken process file stops the exec", async (t) => {
  const h = host(t);
  t.equal(h.run(['create', '--bundle', h.bundle('b', limited), 'c9']).status, 0);
  const proc = join(h.dir, 'p.json');
  const caps = { bounding: ['CAP_KILL', 'CAP_SYS_CHROOT'], effective: ['CAP_SYS_CHROOT'] };
  for (const agent of [false, true]) {
    if (agent) await h.agent();
    writeFileSync(proc, JSON.stringify({ args: ['sh'], env: ['PATH=/bin', 'LD_PRELOAD=/opt/x.so'], capabilities: caps, cwd: '/' }));
    t.equal(h.run(['--log', join(h.dir, 'runc.log'), 'exec', '--process', proc, '--pid-file', join(h.dir, 'pid'), 'c9']).status, 0);
    const p = JSON.parse(readFileSync(proc, 'utf8'));
    t.same(p.env, ['PATH=/bin', `LD_PRELOAD=${containerPaths().interposer}:/opt/x.so`], `${agent ? 'agent' : 'in-process'}: the interposer is preloaded first`);
    t.same(p.capabilities, { bounding: ['CAP_KILL'], effective: [] }, 'no CAP_SYS_CHROOT in any set');
    t.equal(p.cwd, '/', 'the rest is kept');
  }
  t.same(h.calls().filter((c) => c.includes(' exec ')).length, 2, 'then the lower runtime ran each exec');
  writeFileSync(proc, '{not json');
  const r = h.run(['--log', join(h.dir, 'runc.log'), 'exec', '--process', proc, 'c9']);
  t.equal(r.status, 1, 'an exec whose process cannot be edited does not run');
  t.match(r.stderr, /gpumem: cannot read the exec process/);
  t.same(h.calls().filter((c) => c.includes(' exec ')).length, 2, 'the lower runtime was not asked');
});
