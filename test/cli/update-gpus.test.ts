// gpumem update per GPU, on containers the create step made on three fake GPUs: a GPU named by
// the container's index or by its UUID (as gpumem ps --no-trunc shows it) gets the new budget,
// the others keep theirs; a UUID the container was not given is one line and changes nothing.
import t from 'tap';
import { join } from 'node:path';
import { readBudgets } from '../../lib/ffi/native.js';
import { relative } from '../../lib/layout.js';
import { gpumem, makeContainers } from './fixtures/gpu-host.js';

const GiB = 2n ** 30n;
const A = 'a'.repeat(64);

const budgets = async (env: Record<string, string>) => {
  const r = await gpumem(env, ['ps', '--format', 'json']);
  return r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { gpu: string; uuid: string; limit: number });
};

t.test('--gpu-limit by UUID changes that GPU\'s budget only, whichever index the container gives it', async (t) => {
  const m = makeContainers(t, [{ id: A, annotations: { 'gpumem.io/limit': '8g' }, visible: '2,0' }]);
  const before = await budgets(m.env);
  t.same(before.map((r) => r.limit), [8 * 2 ** 30, 8 * 2 ** 30]);
  const second = before[1]!.uuid;
  const r = await gpumem(m.env, ['update', A.slice(0, 12), '--gpu-limit', `${second.toLowerCase()}=3g`]);
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout, A + '\n');
  const after = await budgets(m.env);
  t.same(after.map((x) => [x.uuid, x.limit]), [[before[0]!.uuid, 8 * 2 ** 30], [second, 3 * 2 ** 30]], 'GPU 1 (by its UUID, any case) 3 GiB, GPU 0 still 8 GiB');
  const config = readBudgets(join(m.root, A, relative.configFile()));
  t.equal(config.perGpu.get(1), 3n * GiB, 'the config its processes read says so');

  const both = await gpumem(m.env, ['update', A, '--gpu-limit', '0=2g', '--gpu-limit', `${second}=1g`]);
  t.equal(both.status, 0, both.stderr);
  t.same((await budgets(m.env)).map((x) => x.limit), [2 * 2 ** 30, 2 ** 30], 'an index and a UUID in one update');
});

t.test('a UUID the container was not given, or not GPU=SIZE, is one line, exit 1, nothing changed', async (t) => {
  const m = makeContainers(t, [{ id: A, annotations: { 'gpumem.io/limit': '8g' }, visible: '1' }]);
  const [own] = await budgets(m.env);
  const other = 'GPU-00000000-0000-4000-8000-000000000000';
  const r = await gpumem(m.env, ['update', A, '--gpu-limit', `${other}=1g`]);
  t.equal(r.status, 1);
  t.equal(r.stderr, `gpumem: ${A.slice(0, 12)}: it has no GPU ${other} (its GPUs: 0 ${own!.uuid}); nothing was changed\n`);
  const bad = await gpumem(m.env, ['update', A, '--gpu-limit', 'GPU0=1g']);
  t.equal(bad.status, 1);
  t.match(bad.stderr, /^gpumem: --gpu-limit "GPU0=1g" is not GPU=SIZE with GPU an index 0-\d+ or a GPU-\/MIG- UUID, e.g\. 1=4g\n$/);
  t.same((await budgets(m.env)).map((x) => x.limit), [8 * 2 ** 30], 'still 8 GiB');
});
