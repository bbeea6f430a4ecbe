import t from 'tap';
import { containerGpus, looksLikeGpuContainer, nvidiaDeviceMinors, type GpuSpecFacts } from '../../lib/gpu/container-gpus.js';
import { gpuSpecFacts } from '../../lib/gpu/spec-facts.js';
import type { InventoryGpu } from '../../lib/gpu/host-gpu.js';

const GiB = 2 ** 30;
// Three GPUs, device minors not in NVML's order, GPU 1 in MIG mode with two MIG devices.
const host: InventoryGpu[] = [
  { index: 0, uuid: 'GPU-00000000-0000-0000-0000-000000000000', totalBytes: 24 * GiB, minor: 2, mig: false },
  { index: 1, uuid: 'GPU-11111111-1111-1111-1111-111111111111', totalBytes: 80 * GiB, minor: 0, mig: false },
  { index: 2, uuid: 'MIG-aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa', totalBytes: 10 * GiB, minor: 0, parent: 1, mig: true },
  { index: 3, uuid: 'MIG-bbbbbbbb-bbbb-bbbb-bbbb-bbbbbbbbbbbb', totalBytes: 20 * GiB, minor: 0, parent: 1, mig: true },
  { index: 4, uuid: 'GPU-44444444-4444-4444-4444-444444444444', totalBytes: 40 * GiB, minor: 1, mig: false },
];
const facts = (visible: string | undefined, deviceMinors: number[] = [], visibleApplies = true): GpuSpecFacts => ({ visible, visibleApplies, deviceMinors });
const uuids = (f: GpuSpecFacts) => {
  const g = containerGpus(f, host);
  return g.kind === 'known' ? g.gpus.map((x) => x.uuid.slice(0, 12)) : g.kind;
};

t.test('NVIDIA_VISIBLE_DEVICES by index, UUID and index:mig names GPUs and MIG devices, in the host order', async (t) => {
  t.same(uuids(facts('2,0')), ['GPU-00000000', 'GPU-44444444'], '"2,0" is host GPUs 0 and 2 (the third whole GPU), numbered as nvidia-smi shows them inside');
  t.same(uuids(facts('GPU-44444444-4444-4444-4444-444444444444')), ['GPU-44444444']);
  t.same(uuids(facts('gpu-44444444-4444-4444-4444-444444444444')), ['GPU-44444444'], 'UUIDs in any case');
  t.same(uuids(facts('1:1')), ['MIG-bbbbbbbb'], 'MIG device 1 of GPU 1');
  t.same(uuids(facts('MIG-aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa')), ['MIG-aaaaaaaa']);
  t.same(uuids(facts(' 0 , 0 ')), ['GPU-00000000'], 'a GPU named twice is one GPU');
});

t.test('"all" gives every GPU, and a GPU in MIG mode as its MIG devices', async (t) => {
  t.same(uuids(facts('all')), ['GPU-00000000', 'MIG-aaaaaaaa', 'MIG-bbbbbbbb', 'GPU-44444444']);
});

t.test('none, void, empty and an unset variable give no GPU', async (t) => {
  for (const v of ['none', 'void', '', '  ', undefined]) t.equal(containerGpus(facts(v), host).kind, 'none', String(v));
});

t.test('CDI device nodes are GPUs by their minor number, not their position', async (t) => {
  t.same(uuids(facts('void', [1])), ['GPU-44444444'], '/dev/nvidia1 is the GPU whose minor is 1 (host GPU 2)');
  t.same(uuids(facts('void', [2, 1])), ['GPU-00000000', 'GPU-44444444']);
  t.same(uuids(facts('1:0', [0])), ['MIG-aaaaaaaa'], "a MIG device's CDI edits bring its GPU's node: the MIG device stands for it");
});

t.test('a GPU the host does not have is refused with one line naming it', async (t) => {
  t.throws(() => containerGpus(facts('7'), host), { message: /^gpumem: NVIDIA_VISIBLE_DEVICES names GPU "7", which this host does not have \(it has 3 GPUs/ });
  t.throws(() => containerGpus(facts('GPU-deadbeef'), host), { message: /names GPU "GPU-deadbeef"/ });
  t.throws(() => containerGpus(facts('void', [9]), host), { message: /^gpumem: the container is given \/dev\/nvidia9, which is no GPU this host's NVML lists/ });
});

t.test('without NVML the GPUs are unknown, counted where the spec says how many', async (t) => {
  t.same(containerGpus(facts('0,1'), undefined), { kind: 'unknown', count: 2, why: 'the host has no NVML to tell its GPUs' });
  t.same(containerGpus(facts('all'), undefined), { kind: 'unknown', why: 'the host has no NVML to tell its GPUs' });
  t.same(containerGpus(facts('void', [0, 3]), undefined).kind, 'unknown');
});

t.test("an image's own NVIDIA_VISIBLE_DEVICES gives no GPU unless NVIDIA's hook or runtime acts on it", async (t) => {
  const spec = (hooks?: object, devices?: object[]) => ({ ...(hooks ? { hooks } : {}), linux: { devices: devices ?? [] } });
  const env = { NVIDIA_VISIBLE_DEVICES: 'all' };
  t.notOk(looksLikeGpuContainer(gpuSpecFacts(spec(), env, '/usr/bin/runc')), 'runc below, no hook: an image ENV alone');
  t.ok(looksLikeGpuContainer(gpuSpecFacts(spec({ prestart: [{ path: '/usr/bin/nvidia-container-runtime-hook' }] }), env, '/usr/bin/runc')), "dockerd's --gpus hook");
  t.ok(looksLikeGpuContainer(gpuSpecFacts(spec(), env, '/usr/bin/nvidia-container-runtime')), "NVIDIA's runtime below");
  t.ok(looksLikeGpuContainer(gpuSpecFacts(spec(undefined, [{ path: '/dev/nvidia0', type: 'c', major: 195, minor: 0 }]), {}, null)), 'a CDI device node');
  t.notOk(looksLikeGpuContainer(gpuSpecFacts(spec(undefined, [{ path: '/dev/nvidiactl' }, { path: '/dev/nvidia-uvm' }, { path: '/dev/fuse' }]), {}, null)), 'control nodes are no GPU');
});

t.test('device nodes: the minor the spec gives, else the one in the name', async (t) => {
  t.same(nvidiaDeviceMinors([{ path: '/dev/nvidia3', minor: 7 }, { path: '/dev/nvidia4' }, { path: '/dev/nvidia-caps/nvidia-cap1' }, { path: '/dev/nvidiactl' }, null, 'x']), [7, 4]);
  t.same(nvidiaDeviceMinors(undefined), []);
});
