// The create-time decision without dockerd: a bundle in a temp dir, the create step run as the
// agent and the in-process fallback run it, a fake NVML with GPUs of different sizes.
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { accountingUsage, readConfig } from '../../lib/ffi/native.js';
import { containerPaths } from '../../lib/layout.js';
import { create, createMany, HOST, setup } from './fixtures/create.js';

const INSIDE = containerPaths();

const GiB = 2 ** 30;

t.test('a 50% limit on GPUs 2 and 0 of a host with 24, 40 and 80 GiB GPUs: half of each, by UUID; config, region, ledger entry and mounts written', async (t) => {
  const c = setup(t, { 'gpumem.io/limit': '50%' }, ['NVIDIA_VISIBLE_DEVICES=2,0']);
  const o = create(c, 'ctr-a');
  t.ok(o.ok, JSON.stringify(o));
  const dir = join(c.state, 'ctr-a');
  const config = readConfig(join(dir, 'config', 'gpumem.conf'));
  t.same([...config.perGpu], [[0, 12 * GiB], [1, 40 * GiB]], "the container's GPU 0 is the host's 24 GiB GPU 0, its GPU 1 the 80 GiB GPU 2 (the host's order, as nvidia-smi shows them inside)");
  t.equal(config.all, undefined, 'a percent becomes per-GPU byte budgets, no blanket one');
  const inventory = JSON.parse(readFileSync(join(c.state, 'inventory.json'), 'utf8')) as { gpus: { uuid: string }[] };
  t.equal(inventory.gpus.length, 3, "the host's GPUs are cached for the boot in the state root");
  const host = inventory.gpus.map((g) => g.uuid);
  t.same([...(config.uuids ?? [])], [[0, host[0]], [1, host[2]]], 'the interposer is told each GPU by UUID');
  const record = JSON.parse(readFileSync(join(dir, 'host.json'), 'utf8'));
  t.same(record.gpus, [{ uuid: host[0], bytes: String(12 * GiB) }, { uuid: host[2], bytes: String(40 * GiB) }], "the host ledger's entry: each GPU's budget");
  t.equal(accountingUsage(join(dir, 'shared', 'accounting')).processes, 0, 'an empty accounting region is ready');
  const spec = c.spec();
  const mounts = Object.fromEntries((spec.mounts ?? []).map((m) => [m.destination, m]));
  t.equal(mounts[INSIDE.configDir]?.source, join(dir, 'config'));
  t.same(mounts[INSIDE.configDir]?.options?.includes('ro'), true, 'the config is mounted read-only');
  t.equal(mounts[INSIDE.accounting]?.source, join(dir, 'shared', 'accounting'));
  t.ok(mounts[INSIDE.interposerDir]?.options?.includes('ro') && mounts[INSIDE.preload], "the interposer's directory and the preload list are mounted");
  t.same(mounts[INSIDE.sharedDir]?.options?.includes('ro'), true, "the region's directory is mounted read-only, the region alone read-write");
  t.same((spec.process as { env: string[] }).env.filter((e) => e.startsWith('LD_PRELOAD=')), [`LD_PRELOAD=${INSIDE.interposer}`], 'the main process loads the interposer through LD_PRELOAD too');
  t.ok(mounts['/proc'], "the spec's own mounts stay");
  t.same(spec.hooks, { createRuntime: [{ path: '/usr/bin/nvidia-cdi-hook', args: ['nvidia-cdi-hook'] }] }, 'no hook of gpumem is added; others stay');
  t.equal((spec.process as { futureField?: number }).futureField, 1, 'fields gpumem does not know survive');
});

t.test('a blanket size and a per-GPU size together: the per-GPU one wins on its GPU', async (t) => {
  const c = setup(t, { 'gpumem.io/limit': '4g', 'gpumem.io/limit.1': '8g' }, ['NVIDIA_VISIBLE_DEVICES=all']);
  t.ok(create(c, 'ctr-b').ok);
  const config = readConfig(join(c.state, 'ctr-b', 'config', 'gpumem.conf'));
  t.same([...config.perGpu], [[0, 4 * GiB], [1, 8 * GiB], [2, 4 * GiB]], 'with the GPUs known, one budget each');
});

t.test('without NVML a blanket size stays one budget for whatever devices the container has', async (t) => {
  const c = setup(t, { 'gpumem.io/limit': '4g', 'gpumem.io/limit.1': '8g' }, ['NVIDIA_VISIBLE_DEVICES=all']);
  t.ok(create(c, 'ctr-b2', { LD_LIBRARY_PATH: '/nonexistent' }).ok);
  const config = readConfig(join(c.state, 'ctr-b2', 'config', 'gpumem.conf'));
  t.equal(config.all, 4 * GiB);
  t.same([...config.perGpu], [[1, 8 * GiB]]);
  t.equal(config.uuids, undefined, 'no UUIDs: devices by ordinal');
});

t.test('GPUMEM_LIMIT in the environment is decided the same way when no annotation is given', async (t) => {
  const c = setup(t, {}, ['NVIDIA_VISIBLE_DEVICES=1', 'GPUMEM_LIMIT=25%']);
  t.ok(create(c, 'ctr-c').ok);
  t.same([...readConfig(join(c.state, 'ctr-c', 'config', 'gpumem.conf')).perGpu], [[0, 10 * GiB]], "a quarter of the host's 40 GiB GPU 1");
});

t.test('a limit larger than the GPU is refused: the engine is told in one line, nothing is written, the spec is untouched', async (t) => {
  const c = setup(t, { 'gpumem.io/limit': '30g' }, ['NVIDIA_VISIBLE_DEVICES=0']);
  const before = readFileSync(join(c.bundle, 'config.json'), 'utf8');
  const o = create(c, 'ctr-d');
  t.notOk(o.ok);
  t.match(o.message, /annotation gpumem\.io\/limit asks for 32212254720 bytes, more than the GPU's 25769803776/);
  const lines = readFileSync(c.runcLog, 'utf8').trim().split('\n');
  t.same(JSON.parse(lines.pop() as string).msg, o.message, "runc's log ends with the message, as containerd shows it");
  t.notOk(existsSync(join(c.state, 'ctr-d')), 'no state directory');
  t.equal(readFileSync(join(c.bundle, 'config.json'), 'utf8'), before);
});

t.test('a percent limit on a host without NVML is refused, saying why', async (t) => {
  const c = setup(t, { 'gpumem.io/limit': '50%' }, ['NVIDIA_VISIBLE_DEVICES=0']);
  const o = create(c, 'ctr-e', { LD_LIBRARY_PATH: '/nonexistent' });
  t.notOk(o.ok);
  t.match(o.message, /needs the GPU's memory size, which gpumem could not learn/);
  t.notOk(existsSync(join(c.state, 'ctr-e')));
});

t.test('a container asking for nothing is left exactly as it was', async (t) => {
  const c = setup(t, { 'com.example/other': 'x' }, ['NVIDIA_VISIBLE_DEVICES=all']);
  const before = readFileSync(join(c.bundle, 'config.json'), 'utf8');
  t.ok(create(c, 'ctr-f').ok);
  t.equal(readFileSync(join(c.bundle, 'config.json'), 'utf8'), before);
  t.notOk(existsSync(join(c.state, 'ctr-f')));
});

t.test('an id that names gpumem\'s own files under the state root is refused', async (t) => {
  const c = setup(t, { 'gpumem.io/limit': '1g' }, []);
  const o = create(c, 'agent.sock');
  t.notOk(o.ok);
  t.match(o.message, /container id "agent.sock" is a name gpumem keeps for itself/);
});

t.test('a per-GPU limit for a GPU the container does not have is refused; a device list is counted even without NVML', async (t) => {
  const c = setup(t, { 'gpumem.io/limit.1': '8g' }, ['NVIDIA_VISIBLE_DEVICES=0']);
  const o = create(c, 'ctr-g');
  t.notOk(o.ok);
  t.match(o.message, /gpumem\.io\/limit\.1 is for the container's GPU 1, but it sees 1 GPU \(index 0\)/);
  t.notOk(existsSync(join(c.state, 'ctr-g')));
  const d = setup(t, { 'gpumem.io/limit.1': '8g' }, ['NVIDIA_VISIBLE_DEVICES=GPU-a,GPU-b']);
  t.ok(create(d, 'ctr-h', { LD_LIBRARY_PATH: '/nonexistent' }).ok, 'two GPUs listed: index 1 exists');
});

t.test('mistyped keys stop the create; near misses start it, with a warning in the decision log', async (t) => {
  const c = setup(t, { 'GPUMEM.IO/limit': '64m' }, []);
  t.match(create(c, 'ctr-i').message, /^gpumem: unknown annotation GPUMEM\.IO\/limit; accepted: gpumem\.io\/limit/);
  const d = setup(t, {}, ['GPUMEM_STATE_DIR=/tmp']);
  t.match(create(d, 'ctr-j').message, /GPUMEM_STATE_DIR may only be set by the host/);
  const e = setup(t, { 'gpumem.io.limit': '64m' }, ['gpumem_limit=64m']);
  t.ok(create(e, 'ctr-k').ok, 'not gpumem\'s keys: the container starts (without a limit)');
  const log = readFileSync(join(e.state, '..', 'gpumem.log'), 'utf8');
  t.match(log, /annotation \\"gpumem\.io\.limit\\" looks like gpumem's but is not read/);
  t.match(log, /environment variable gpumem_limit looks like gpumem's/);
});

t.test('a MIG device is a budget unit of its own: its UUID in the config, a percent of its own memory, admitted apart from its GPU', async (t) => {
  const mig = { ...HOST, FAKE_NVML_MIG: '1=10g+20g' };
  const c = setup(t, { 'gpumem.io/limit': '50%' }, ['NVIDIA_VISIBLE_DEVICES=1:1']);
  t.ok(create(c, 'ctr-mig', mig).ok);
  const config = readConfig(join(c.state, 'ctr-mig', 'config', 'gpumem.conf'));
  t.same([...config.perGpu], [[0, 10 * GiB]], 'half of the 20 GiB MIG device 1 of GPU 1');
  t.match(config.uuids?.get(0), /^MIG-[0-9a-f-]{36}$/, 'named by its MIG UUID');
  // Another container on the same MIG device: 15 GiB does not fit beside the 10 GiB admitted.
  const d = setup(t, { 'gpumem.io/limit': '15g' }, ['NVIDIA_VISIBLE_DEVICES=1:1']);
  const refused = createMany(c.state, [{ id: 'ctr-mig2', bundle: d.bundle }], mig)[0]!;
  t.notOk(refused.ok);
  t.match(refused.message, /^gpumem: GPU 0 \(MIG-[0-9a-f-]{36}\) has 10GiB free for budgets and this container asks for 15GiB/);
});
