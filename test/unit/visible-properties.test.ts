/** Properties of reading NVIDIA_VISIBLE_DEVICES (lib/gpu/visible.ts) over generated device lists and hosts. */
import t from 'tap';
import fc from 'fast-check';
import { visibleGpuCount, visibleGpuSizes } from '../../lib/gpu/visible.js';
import type { HostGpu } from '../../lib/gpu/host-gpu.js';

const RUNS = { numRuns: 2000 };
const GiB = 2 ** 30;

/** 1 to 8 GPUs with distinct UUIDs and sizes, in NVML's order. */
const host: fc.Arbitrary<HostGpu[]> = fc
  .uniqueArray(fc.integer({ min: 1, max: 200 }), { minLength: 1, maxLength: 8 })
  .map((sizes) => sizes.map((g, index) => ({ index, uuid: `GPU-${(index * 7919 + g).toString(16).padStart(8, '0')}-aaaa`, totalBytes: g * GiB })));
const space = fc.constantFrom('', ' ', '  ', '\t');

t.test('a list of host indexes and UUIDs, spaced any way, gives container GPU i the size of the i-th GPU named', async () => {
  fc.assert(
    fc.property(
      host.chain((h) => fc.tuple(fc.constant(h), fc.array(fc.tuple(fc.nat({ max: h.length - 1 }), fc.boolean(), space, space), { minLength: 1, maxLength: 6 }))),
      ([h, picks]) => {
        const text = picks.map(([i, byUuid, before, after]) => before + (byUuid ? h[i]!.uuid : String(i)) + after).join(',');
        const sizes = visibleGpuSizes(text, h);
        return (
          sizes !== undefined &&
          sizes.size === picks.length &&
          picks.every(([i], c) => sizes.get(c) === h[i]!.totalBytes) &&
          visibleGpuCount(text, h.length) === picks.length
        );
      },
    ),
    RUNS,
  );
});

t.test('one name the host does not have makes the sizes unknown, never a wrong size', async () => {
  fc.assert(
    fc.property(host, fc.array(fc.oneof(fc.nat({ max: 12 }).map(String), fc.constantFrom('MIG-1', 'GPU-zzzz', '', '-1', '0x1', '1.0')), { minLength: 1, maxLength: 5 }), (h, names) => {
      fc.pre(names.join(',') !== ''); // an empty variable is "no GPU", tested below
      const unknown = names.some((n) => !(/^\d+$/.test(n) && Number(n) < h.length));
      const sizes = visibleGpuSizes(names.join(','), h);
      return unknown ? sizes === undefined : sizes?.size === names.length;
    }),
    RUNS,
  );
});

t.test('all, none, void and empty mean every host GPU or none, whatever the spacing', async () => {
  fc.assert(
    fc.property(host, fc.constantFrom('all', 'none', 'void', ''), space, space, (h, word, before, after) => {
      const sizes = visibleGpuSizes(before + word + after, h);
      const count = visibleGpuCount(before + word + after, h.length);
      if (word === 'all') return sizes?.size === h.length && h.every((g, i) => sizes.get(i) === g.totalBytes) && count === h.length;
      return sizes?.size === 0 && count === 0;
    }),
    RUNS,
  );
});

t.test('for any text, sizes and count agree whenever the sizes are known, and nothing throws', async () => {
  fc.assert(
    fc.property(host, fc.oneof(fc.string({ unit: fc.constantFrom(...'0123456789, \tallnoevidGPU-MI'), maxLength: 16 }), fc.string({ unit: 'binary', maxLength: 30 })), (h, text) => {
      const sizes = visibleGpuSizes(text, h);
      const count = visibleGpuCount(text, h.length);
      return sizes === undefined || sizes.size === count;
    }),
    { numRuns: 5000 },
  );
});
