// gpumem ps for containers the create step made on a host of three GPUs (the fake NVML): a row per
// container and GPU with its index, its UUID (short in the table, whole in JSON and with
// --no-trunc) and its budget, Docker's name when the engine answers, the region's peak and
// refused counts (0 before anything ran), all within 80 columns.
import t from 'tap';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { gpumem, makeContainers } from './fixtures/gpu-host.js';

const GiB = 2 ** 30;
const A = 'a'.repeat(64);
const B = 'b'.repeat(64);

/** Answers GET /containers/json?all=1 as dockerd does, with the names given. */
async function engine(t: { teardown: (f: () => Promise<void>) => void }, dir: string, names: Record<string, string>): Promise<string> {
  const socket = join(dir, 'docker.sock');
  const server = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    if (req.url?.startsWith('/containers/json')) res.end(JSON.stringify(Object.entries(names).map(([Id, name]) => ({ Id, Names: [`/${name}`], State: 'running' }))));
    else {
      res.statusCode = 404;
      res.end('{"message":"page not found"}');
    }
  });
  await new Promise<void>((r) => server.listen(socket, r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return `unix://${socket}`;
}

t.test('gpumem ps shows each GPU of each container by index and UUID, with its budget and Docker name', async (t) => {
  const m = makeContainers(t, [
    { id: A, annotations: { 'gpumem.io/limit': '8g' } },
    { id: B, annotations: { 'gpumem.io/limit': '50%', 'gpumem.io/limit.1': '4g' }, visible: '1,2' },
  ]);
  t.same(m.outcomes.map((o) => o.ok), [true, true], 'both created');
  const docker = await engine(t, m.dir, { [A]: 'trainer', [B]: 'notebook-of-someone' });
  const env = { ...m.env, DOCKER_HOST: docker };

  const [json, table, full] = await Promise.all([gpumem(env, ['ps', '--format', 'json']), gpumem(env, ['ps']), gpumem(env, ['ps', '--no-trunc'])]);
  t.equal(json.status, 0, json.stderr);
  const rows = json.stdout.trim().split('\n').map((l) => JSON.parse(l));
  const uuid = /^GPU-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
  t.match(rows, [
    { container: A, name: 'trainer', gpu: '0', uuid, limit: 8 * GiB, peak: 0, refused: 0 },
    { container: A, name: 'trainer', gpu: '1', uuid, limit: 8 * GiB },
    { container: A, name: 'trainer', gpu: '2', uuid, limit: 8 * GiB },
    { container: B, name: 'notebook-of-someone', gpu: '0', uuid: rows[1].uuid, limit: 20 * GiB },
    { container: B, name: 'notebook-of-someone', gpu: '1', uuid: rows[2].uuid, limit: 4 * GiB },
  ], "B's GPUs 0 and 1 are the host's 1 and 2: their UUIDs say so; 50% of the 40g GPU is 20GiB");
  t.equal(rows.length, 5);
  t.equal(new Set(rows.slice(0, 3).map((r) => r.uuid)).size, 3, 'three different GPUs');

  const lines = table.stdout.trimEnd().split('\n');
  t.ok(lines.every((l) => l.length <= 80), `within 80 columns:\n${table.stdout}`);
  t.match(lines[0], /^CONTAINER ID\s+NAME\s+GPU\s+UUID\s+BUDGET\s+USED\s+DRIVER\s+PEAK\s+REFUSED/);
  t.match(lines[1], /^a{12}\s+trainer\s+0\s+GPU-\S+\s+8GiB\s+0B\s+0B\s+0B\s+0$/, 'nothing held at its peak yet, nothing refused');
  t.match(lines[4], /^b{12}\s+notebook\S*…\s+0\s+GPU-\S+\s+20GiB\s/, 'a long name is cut to fit');
  const shown = lines.slice(1).map((l) => l.split(/\s+/)[3]);
  t.equal(new Set(shown.slice(0, 3)).size, 3, "the table's short UUIDs still tell the GPUs apart");
  t.equal(shown[3], shown[1], "and show B's GPU 0 as A's GPU 1");

  const wide = full.stdout.trimEnd().split('\n');
  t.match(wide[1], new RegExp(`^${A}\\s+trainer\\s+0\\s+${rows[0].uuid}\\s+8GiB\\s+0B\\s+0B\\s+0B\\s+0\\s+0\\s+ok$`), '--no-trunc: whole ids, names and UUIDs, every column');
  t.match(wide[4], new RegExp(`^${B}\\s+notebook-of-someone\\s+0\\s+${rows[1].uuid}\\s`));
});

t.test('gpumem ps without a Docker engine to ask lists the containers without names', async (t) => {
  const m = makeContainers(t, [{ id: A, annotations: { 'gpumem.io/limit': '1g' }, visible: '0' }]);
  const r = await gpumem(m.env, ['ps', '--format', 'json']);
  t.equal(r.status, 0, r.stderr);
  t.match(JSON.parse(r.stdout), { container: A, name: null, gpu: '0', limit: GiB });
  t.equal(r.stderr, '');
});
