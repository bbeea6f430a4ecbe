import t from 'tap';
import { visibleGpuSizes } from '../../lib/gpu/visible.js';
import { resolveBudget } from '../../lib/budget/resolve.js';
import { limitRequest } from '../../lib/budget/request.js';

const GiB = 2 ** 30;
const host = [
  { index: 0, uuid: 'GPU-aaaa', totalBytes: 80 * GiB },
  { index: 1, uuid: 'GPU-bbbb', totalBytes: 40 * GiB },
  { index: 2, uuid: 'GPU-cccc', totalBytes: 141 * GiB },
];

t.test('--gpus all shows every host GPU in the host order', async (t) => {
  t.same(visibleGpuSizes('all', host), new Map([[0, 80 * GiB], [1, 40 * GiB], [2, 141 * GiB]]));
});

t.test('--gpus device=2,0 renumbers from 0 in the order given, by index or UUID', async (t) => {
  t.same(visibleGpuSizes('2,0', host), new Map([[0, 141 * GiB], [1, 80 * GiB]]));
  t.same(visibleGpuSizes('GPU-bbbb', host), new Map([[0, 40 * GiB]]));
});

t.test('sizes are unknown for MIG devices, unknown GPUs, or no NVIDIA_VISIBLE_DEVICES; none means no GPU', async (t) => {
  t.equal(visibleGpuSizes('MIG-1234', host), undefined);
  t.equal(visibleGpuSizes('7', host), undefined);
  t.equal(visibleGpuSizes(undefined, host), undefined);
  t.same(visibleGpuSizes('none', host), new Map());
});

t.test('a 50% limit on --gpus device=2,1 gives each GPU half of its own memory', async (t) => {
  const req = limitRequest({ 'gpumem.io/limit': '50%' }, {})!;
  t.same(resolveBudget(req, visibleGpuSizes('2,1', host)).perGpu, new Map([[0, 70.5 * GiB], [1, 20 * GiB]]));
  const big = limitRequest({ 'gpumem.io/limit': '60g' }, {})!;
  t.throws(() => resolveBudget(big, visibleGpuSizes('all', host)), { message: /more than the GPU's/ }, '60g is more than the 40 GiB GPU');
});
