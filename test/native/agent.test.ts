// The agent and its C client without dockerd: a bundle in a temp dir, `gpumem agent` on a socket
// of its own, native/build/gpumem-create as the runtime shim runs it.
import t from 'tap';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { removeTree } from './fixtures/remove-tree.js';
import { join } from 'node:path';
import { readConfig } from '../../lib/ffi/native.js';
import { containerPaths } from '../../lib/layout.js';
import { ACCEPTED_VALUES } from '../../lib/budget/request.js';

const CLIENT = join(process.cwd(), 'native/build/gpumem-create');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Agent {
  dir: string;
  socket: string;
  pidfile: string;
  state: string;
  child: ChildProcess;
  stderr: () => string;
}

async function startAgent(t: { teardown: (f: () => void) => void }, dir = mkdtempSync(join(tmpdir(), 'gpumem-agent-'))): Promise<Agent> {
  const state = join(dir, 'state');
  mkdirSync(state, { recursive: true });
  const socket = join(state, 'agent.sock');
  const pidfile = join(state, 'agent.pid');
  const child = spawn(process.execPath, ['dist/hook/gpumem.js', 'agent', '--socket', socket, '--pidfile', pidfile], {
    env: { PATH: process.env.PATH ?? '', LD_LIBRARY_PATH: 'native/build/fake', FAKE_NVML_DEVICE_MEMS: '24g,40g', GPUMEM_STATE_ROOT: state, GPUMEM_LOG_FILE: join(dir, 'gpumem.log') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  let out = '';
  child.stderr?.on('data', (d) => (err += d));
  child.stdout?.on('data', (d) => (out += d));
  t.teardown(() => {
    child.kill('SIGKILL');
    removeTree(dir);
  });
  // Ready once it says so (the socket appears a moment before its mode is set).
  for (let i = 0; i < 200 && !out.includes('listening on'); i++) await sleep(50);
  if (!out.includes('listening on')) throw new Error(`the agent did not start: ${err}`);
  return { dir, socket, pidfile, state, child, stderr: () => err };
}

function bundle(dir: string, name: string, annotations: Record<string, string>): string {
  const b = join(dir, name);
  mkdirSync(b, { recursive: true });
  writeFileSync(join(b, 'config.json'), JSON.stringify({ ociVersion: '1.2.0', root: { path: 'rootfs' }, process: { env: ['NVIDIA_VISIBLE_DEVICES=all'] }, annotations }));
  return b;
}

const ask = (socket: string, args: string[], cwd?: string) => spawnSync(CLIENT, [socket, ...args], { encoding: 'utf8', cwd });

t.test('the agent decides a create: the client exits 0 and the config, region and mounts are there', async (t) => {
  const a = await startAgent(t);
  const b = bundle(a.dir, 'b1', { 'gpumem.io/limit': '50%' });
  const r = ask(a.socket, ['--root', '/x', 'create', '--bundle', b, 'c1']);
  t.equal(r.status, 0, r.stderr);
  t.same([...readConfig(join(a.state, 'c1', 'config', 'gpumem.conf')).perGpu], [[0, 12 * 2 ** 30], [1, 20 * 2 ** 30]], 'half of each GPU, sizes from NVML');
  const spec = JSON.parse(readFileSync(join(b, 'config.json'), 'utf8'));
  t.ok(spec.mounts.some((m: { destination: string }) => m.destination === containerPaths().accounting));
  t.equal(statSync(a.socket).mode & 0o777, 0o600, 'the socket is root-only');
  t.equal(readFileSync(a.pidfile, 'utf8').trim(), String(a.child.pid), 'the pid file names the agent');
});

t.test("a bundle relative to the shim's directory is found: the agent works from the client's directory", async (t) => {
  const a = await startAgent(t);
  const b = bundle(a.dir, 'b2', { 'gpumem.io/limit': '1g' });
  const r = ask(a.socket, ['create', 'c2'], b); // no --bundle: the current directory, as runc does
  t.equal(r.status, 0, r.stderr);
  t.same([...readConfig(join(a.state, 'c2', 'config', 'gpumem.conf')).perGpu], [[0, 2 ** 30], [1, 2 ** 30]], 'its budget on each of the host GPUs it was given (all)');
});

t.test('a refusal: exit 1, the message on stderr and as the last JSON line of runc\'s log, nothing left', async (t) => {
  const a = await startAgent(t);
  const b = bundle(a.dir, 'b3', { 'gpumem.io/limit': '12parsecs' });
  const log = join(a.dir, 'runc.log');
  const r = ask(a.socket, ['--log', log, 'create', '--bundle', b, 'c3']);
  t.equal(r.status, 1);
  t.match(r.stderr, /^gpumem: annotation gpumem\.io\/limit="12parsecs" is not a valid limit; use a size like 512m/);
  t.equal(JSON.parse(readFileSync(log, 'utf8').trim().split('\n').pop() as string).msg, r.stderr.trim());
  t.notOk(existsSync(join(a.state, 'c3')));
});

t.test('no agent, or a dead one whose socket is left: exit 3, so the shim decides in-process', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gpumem-agent-'));
  t.teardown(() => removeTree(dir));
  t.equal(ask(join(dir, 'none.sock'), ['create', 'x']).status, 3, 'no socket');
  const a = await startAgent(t);
  a.child.kill('SIGKILL');
  await new Promise((r) => a.child.once('exit', r));
  t.ok(existsSync(a.socket), 'a SIGKILLed agent leaves its socket');
  t.equal(ask(a.socket, ['create', '--bundle', bundle(a.dir, 'b4', { 'gpumem.io/limit': '1g' }), 'c4']).status, 3, 'a stale socket');
  t.notOk(existsSync(join(a.state, 'c4')));
});

t.test('a shim killed before the answer leaves no state behind', async (t) => {
  const a = await startAgent(t);
  const b = bundle(a.dir, 'b5', { 'gpumem.io/limit': '1g' });
  const fields = ['gpumem-create/1', '/', '3', 'create', `--bundle=${b}`, 'c5'];
  await new Promise<void>((resolve) => {
    const s = connect(a.socket, () => {
      s.end(fields.map((f) => f + '\0').join(''));
      s.destroy(); // gone before the agent answers
      resolve();
    });
  });
  await sleep(500);
  t.ok(JSON.parse(readFileSync(join(b, 'config.json'), 'utf8')).mounts, 'the agent did decide');
  t.notOk(existsSync(join(a.state, 'c5')), 'and took the state back when the answer found no one');
});

t.test('a malformed request is refused with a reason, and the agent keeps serving', async (t) => {
  const a = await startAgent(t);
  const answer = await new Promise<string>((resolve) => {
    let got = '';
    const s = connect(a.socket, () => s.end('gpumem-create/1\0/\x005\0create\0'));
    s.on('data', (d) => (got += d));
    s.on('close', () => resolve(got));
  });
  t.match(answer, /^refused gpumem: bad request to the gpumem agent: the request announces 5 arguments and carries 1\n$/);
  const b = bundle(a.dir, 'b6', { 'gpumem.io/limit': '1g' });
  t.equal(ask(a.socket, ['create', '--bundle', b, 'c6']).status, 0);
});

t.test('a second agent on the same socket refuses to start; SIGTERM removes the socket and pid file', async (t) => {
  const a = await startAgent(t);
  const second = spawnSync(process.execPath, ['dist/hook/gpumem.js', 'agent', '--socket', a.socket, '--pidfile', join(a.dir, 'p2')], {
    env: { PATH: process.env.PATH ?? '', GPUMEM_LOG_FILE: join(a.dir, 'gpumem.log') },
    encoding: 'utf8',
    timeout: 20_000,
  });
  t.equal(second.status, 1);
  t.match(second.stderr, /another agent already answers at/);
  a.child.kill('SIGTERM');
  await new Promise((r) => a.child.once('exit', r));
  t.notOk(existsSync(a.socket), 'socket removed');
  t.notOk(existsSync(a.pidfile), 'pid file removed');
});

t.test("the agent's refusals are lines of the decision log, a malformed request's too", async (t) => {
  const a = await startAgent(t);
  const b = bundle(a.dir, 'b7', { 'gpumem.io/limit': '8g\n9g' });
  const r = ask(a.socket, ['create', '--bundle', b, 'c7']);
  t.equal(r.status, 1);
  t.equal(r.stderr, `gpumem: annotation gpumem.io/limit="8g\\n9g" is not a valid limit; use ${ACCEPTED_VALUES}\n`, 'one line');
  await new Promise<string>((resolve) => {
    const s = connect(a.socket, () => s.end('create\nme\0'));
    s.on('data', () => {});
    s.on('close', () => resolve(''));
  });
  const refused = readFileSync(join(a.dir, 'gpumem.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((l) => l.outcome === 'refused');
  t.same(refused.map((l) => [l.container, l.msg]), [
    ['c7', r.stderr.trim()],
    [undefined, 'gpumem: bad request to the gpumem agent: unknown request "create\\nme"; expected gpumem-create/1 or gpumem-kernel-limit/1'],
  ]);
});

t.test('an agent whose state root is wiped under it listens again, and decides the next create', async (t) => {
  const a = await startAgent(t);
  const pid = readFileSync(a.pidfile, 'utf8');
  removeTree(a.state); // as rm -rf /run/gpumem would
  for (let i = 0; i < 60 && !existsSync(a.socket); i++) await sleep(100);
  const log = existsSync(join(a.dir, 'gpumem.log')) ? readFileSync(join(a.dir, 'gpumem.log'), 'utf8') : '(no log)';
  t.ok(existsSync(a.socket), 'the socket is back within a few seconds', { log, stderr: a.stderr(), alive: a.child.exitCode === null });
  t.equal(readFileSync(a.pidfile, 'utf8'), pid, 'with the pid file naming the same agent');
  const b = bundle(a.dir, 'b-wiped', { 'gpumem.io/limit': '1g' });
  t.equal(ask(a.socket, ['create', '--bundle', b, 'c-wiped']).status, 0, 'a create is decided');
  t.ok(existsSync(join(a.state, 'c-wiped', 'config', 'gpumem.conf')), 'its state is there');
});
