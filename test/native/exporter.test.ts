// gpumem exporter as Prometheus sees it: started as a program on a loopback port against a private
// state root with containers made by the create step (three fake GPUs of different sizes),
// scraped over HTTP and read with a Prometheus text-format parser. Budgets per GPU by UUID, what
// a process holds, names from a stand-in Docker engine (and none once it is gone), a scribbled
// region that costs only its own series; a taken port and a bad --listen refused in one line.
import t from 'tap';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { get, createServer } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import parsePrometheus from 'parse-prometheus-text-format';
import { HOST, createMany, setup } from './fixtures/create.js';
import { MiB, envFor, runJson, startHolding } from './fixtures/native.js';
import { removeTree } from './fixtures/remove-tree.js';

const GiB = 2 ** 30;

interface Family { name: string; type: string; metrics: { value: string; labels?: Record<string, string> }[] }
const parse = parsePrometheus as unknown as (text: string) => Family[];

// The host's GPUs as NVML lists them to a host tool (no interposer): host GPU i is uuids[i].
const nvml = runJson<{ devices: { uuid: string; total: number }[] }>('nvml-meminfo', [], envFor({ preload: false, extra: HOST })).json!;
const uuids = nvml.devices.map((d) => d.uuid);

const A = 'a'.repeat(64); // 4g on each of host GPUs 0 and 2, named "trainer" by Docker
const B = 'b'.repeat(64); // 50% of host GPU 1 (40g), unknown to Docker

/** The exporter as systemd starts it, but on a free loopback port; resolves once it says where it listens. */
function exporter(t: { teardown: (f: () => void) => void }, env: Record<string, string>, listen = '127.0.0.1:0') {
  const child: ChildProcess = spawn(process.execPath, ['dist/hook/gpumem.js', 'exporter', '--listen', listen], {
    env: { PATH: process.env.PATH ?? '', LD_LIBRARY_PATH: 'native/build/fake', ...HOST, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => child.kill('SIGKILL'));
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const url = new Promise<string>((ok, fail) => {
    child.stdout!.on('data', () => {
      const m = /listening on (http:\/\/\S+)\n/.exec(stdout);
      if (m) ok(m[1] as string);
    });
    void exited.then((code) => fail(new Error(`exporter exited (${code}): ${stderr}`)));
  });
  url.catch(() => undefined); // one that is meant to fail is awaited through `exited`
  return { child, url, exited, output: () => ({ stdout, stderr }) };
}

function fetch(url: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((ok, fail) => {
    get(url, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => ok({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
    }).on('error', fail);
  });
}

const scrape = async (url: string) => {
  const r = await fetch(url);
  return new Map(parse(r.body).map((f) => [f.name, f]));
};

/** The value of the one series of a family whose labels include these, or undefined. */
function value(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number | undefined {
  const m = families.get(name)?.metrics.filter((s) => Object.entries(labels).every(([k, v]) => s.labels?.[k] === v)) ?? [];
  return m.length === 1 ? Number(m[0]!.value) : undefined;
}

/** A stand-in for the engine's GET /containers/json, as dockerd answers it. */
async function dockerEngine(t: { teardown: (f: () => void) => void }, dir: string) {
  const socket = join(dir, 'docker.sock');
  const server = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    if (!/^\/(?:v[\d.]+\/)?containers\/json\?/.test(req.url ?? '')) {
      res.statusCode = 404;
      res.end('{"message":"page not found"}');
      return;
    }
    res.end(JSON.stringify([{ Id: A, Names: ['/trainer'] }, { Id: 'c'.repeat(64), Names: ['/not-limited'] }]));
  });
  await new Promise<void>((r) => server.listen(socket, r));
  const close = () => new Promise<void>((r) => server.close(() => r()));
  t.teardown(close);
  return { host: `unix://${socket}`, close };
}

t.test('a scrape over loopback shows each container\'s budget per GPU by UUID, what it uses and its Docker name', async (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'gpumem-exporter-'));
  t.teardown(() => removeTree(tmp)); // each region is on its own tmpfs
  const state = join(tmp, 'state');
  const a = setup(t, { 'gpumem.io/limit': '4g' }, ['NVIDIA_VISIBLE_DEVICES=0,2']);
  const b = setup(t, { 'gpumem.io/limit': '50%' }, ['NVIDIA_VISIBLE_DEVICES=1']);
  t.same(createMany(state, [{ id: A, bundle: a.bundle }, { id: B, bundle: b.bundle }], HOST).map((o) => o.ok), [true, true]);
  const docker = await dockerEngine(t, tmp);
  const e = exporter(t, { GPUMEM_STATE_ROOT: state, GPUMEM_LOG_FILE: join(tmp, 'gpumem.log'), DOCKER_HOST: docker.host });
  const url = await e.url;
  t.match(url, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/, 'it says where it listens');

  const raw = await fetch(url);
  t.equal(raw.status, 200);
  t.match(raw.type, /^text\/plain; version=0\.0\.4/, 'Prometheus\' text format');
  let m = await scrape(url);
  t.equal(value(m, 'gpumem_containers'), 2, 'two limited containers');
  t.equal(m.get('gpumem_budget_bytes')?.type, 'GAUGE');
  t.equal(value(m, 'gpumem_budget_bytes', { container: A, name: 'trainer', gpu_uuid: uuids[0]!, gpu: '0' }), 4 * GiB, 'A: 4 GiB on host GPU 0, its GPU 0');
  t.equal(value(m, 'gpumem_budget_bytes', { container: A, name: 'trainer', gpu_uuid: uuids[2]!, gpu: '1' }), 4 * GiB, 'and on host GPU 2, its GPU 1');
  t.equal(value(m, 'gpumem_budget_bytes', { container: B, name: '', gpu_uuid: uuids[1]! }), 20 * GiB, 'B: 50% of the 40 GiB GPU; no name, as Docker does not know it');
  t.equal(m.get('gpumem_budget_bytes')?.metrics.length, 3, 'one series per container GPU, none for GPUs a container was not given');
  t.equal(value(m, 'gpumem_used_bytes', { container: B }), 0, 'B holds nothing yet');
  t.equal(value(m, 'gpumem_driver_overhead_bytes', { container: A, gpu: '1' }), 0);
  t.equal(value(m, 'gpumem_exporter_scrape_errors_total'), 0);

  // A process of B, on the host GPU the container was given (its device 0), holds 64 MiB.
  const held = startHolding('alloc-until-oom', ['--max', '64m', '--hold', '20'],
    envFor({ extra: { ...HOST, GPUMEM_STATE_DIR: join(state, B), CUDA_VISIBLE_DEVICES: '1' } }));
  t.teardown(() => held.child.kill('SIGKILL'));
  t.equal((await held.result).allocated, 64 * MiB);
  m = await scrape(url);
  t.equal(value(m, 'gpumem_used_bytes', { container: B, gpu_uuid: uuids[1]! }), 64 * MiB, 'the next scrape shows the 64 MiB it holds');
  t.equal(value(m, 'gpumem_used_bytes', { container: A, gpu: '0' }), 0, 'and nothing for A');

  // A second process of B asks for 8 GiB blocks: two fit beside the 64 MiB, the third is refused.
  const bEnv = envFor({ extra: { ...HOST, GPUMEM_STATE_DIR: join(state, B), CUDA_VISIBLE_DEVICES: '1' } });
  t.equal(runJson<{ allocated: number }>('alloc-until-oom', ['--block', '8g'], bEnv).json?.allocated, 16 * GiB);
  m = await scrape(url);
  const peak = value(m, 'gpumem_peak_bytes', { container: B, gpu_uuid: uuids[1]! }) ?? 0;
  t.ok(peak >= 16 * GiB + 64 * MiB && peak <= 20 * GiB, `B's peak is what both processes held together, within its budget (${peak})`);
  t.equal(m.get('gpumem_refused_allocations_total')?.type, 'COUNTER');
  t.equal(value(m, 'gpumem_refused_allocations_total', { container: B, gpu_uuid: uuids[1]! }), 1, 'and the one allocation its budget refused is counted');
  t.equal(value(m, 'gpumem_refused_allocations_total', { container: A, gpu: '0' }), 0, 'none for A');
  t.equal(value(m, 'gpumem_used_bytes', { container: B }), 64 * MiB, 'what B holds now: the second process is gone');

  await docker.close();
  m = await scrape(url);
  t.equal(value(m, 'gpumem_budget_bytes', { container: A, name: '', gpu: '0' }), 4 * GiB, 'with Docker gone, A is served without its name');
  writeFileSync(join(state, A, 'shared', 'accounting'), 'garbage');
  m = await scrape(url);
  t.equal(value(m, 'gpumem_budget_bytes', { container: B }), 20 * GiB, 'with A\'s region scribbled on, B is still served');
  t.notOk(m.get('gpumem_budget_bytes')?.metrics.some((s) => s.labels?.container === A), 'A\'s series are left out, not made up');
  t.equal(value(m, 'gpumem_exporter_scrape_errors_total'), 1, 'and counted as a scrape error');
  t.equal(value(m, 'gpumem_containers'), 2, 'A is still a limited container');

  t.equal((await fetch(url.replace(/\/metrics$/, '/other'))).status, 404);
  e.child.kill('SIGTERM');
  t.equal(await e.exited, 0, 'SIGTERM stops it with status 0');
});

t.test('a taken port or a --listen that is not HOST:PORT is refused in one line, with status 1', async (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'gpumem-exporter-'));
  t.teardown(() => removeTree(tmp));
  const env = { GPUMEM_STATE_ROOT: join(tmp, 'state'), GPUMEM_LOG_FILE: join(tmp, 'gpumem.log'), DOCKER_HOST: `unix://${join(tmp, 'none.sock')}` };
  const first = exporter(t, env);
  const taken = new URL(await first.url).host;
  const second = exporter(t, env, taken);
  t.equal(await second.exited, 1);
  t.equal(second.output().stderr, `gpumem exporter: cannot listen on ${taken}: another process listens there; stop it or give another --listen HOST:PORT\n`);
  const m = await scrape(await first.url);
  t.equal(value(m, 'gpumem_containers'), 0, 'the first one serves on: no containers on an empty host');
  t.equal(m.get('gpumem_budget_bytes')?.metrics.length, 0);

  // The other refusals: test/unit/exporter-listen.test.ts.
  const r = spawnSync(process.execPath, ['dist/hook/gpumem.js', 'exporter', '--listen', 'example.com:9400'], { env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8' });
  t.equal(r.status, 1);
  t.match(r.stderr, /^gpumem: --listen "example\.com:9400" has host "example\.com", not an IP address \(accepted: [^\n]*\)\n$/);
});
