import t from 'tap';
import { checkNamespace } from '../../lib/budget/namespace.js';
import { limitRequest } from '../../lib/budget/request.js';
import { resolveBudget } from '../../lib/budget/resolve.js';

const MiB = 2 ** 20;

t.test("a gpumem.io/ key in any case that gpumem does not read is refused, naming it and what is accepted", async (t) => {
  for (const key of ['GPUMEM.IO/limit', 'Gpumem.io/limit', 'gpumem.io/LIMIT', 'gpumem.io/limits', 'gpumem.io/limit.x', 'gpumem.io/']) {
    t.throws(() => checkNamespace({ [key]: '64m' }, {}), {
      name: 'LimitError',
      message: `gpumem: unknown annotation ${key}; accepted: gpumem.io/limit, gpumem.io/limit.<GPU index 0-63> or gpumem.io/limit.<GPU-UUID or MIG-UUID> (lower case)`,
    }, key);
  }
  t.same(checkNamespace({ 'gpumem.io/limit': '64m', 'gpumem.io/limit.3': '1g', 'com.example/x': 'y' }, {}), [], 'the keys it reads pass, others are not its business');
});

t.test('a GPUMEM_ variable gpumem does not read is refused; GPUMEM_STATE_DIR is the host\'s alone', async (t) => {
  t.throws(() => checkNamespace({}, { GPUMEM_STATE_DIR: '/tmp' }), {
    message: 'gpumem: environment variable GPUMEM_STATE_DIR may only be set by the host, not in a container; remove it (limits: GPUMEM_LIMIT or GPUMEM_LIMIT_<GPU index 0-63>)',
  });
  for (const key of ['GPUMEM_DEBUG', 'GPUMEM_', 'GPUMEM_STATE_ROOT']) {
    t.throws(() => checkNamespace({}, { [key]: '1' }), { message: `gpumem: unknown environment variable ${key}; accepted: GPUMEM_LIMIT or GPUMEM_LIMIT_<GPU index 0-63>` }, key);
  }
  t.same(checkNamespace({}, { GPUMEM_LIMIT: '1g', GPUMEM_LIMIT_2: '1g', PATH: '/bin' }), []);
});

t.test('near misses outside the namespace are warned about, not refused', async (t) => {
  const w = checkNamespace({ 'gpumem.io.limit': '64m', 'gpumem/limit': '64m', ' gpumem.io/limit': '64m' }, { gpumem_limit: '64m', Gpumem_Limit: '1g' });
  t.equal(w.length, 5);
  t.match(w.join('\n'), /annotation "gpumem\.io\.limit" looks like gpumem's but is not read/);
  t.match(w.join('\n'), /annotation " gpumem\.io\/limit" looks like gpumem's/);
  t.match(w.join('\n'), /environment variable gpumem_limit looks like gpumem's but is not read \(gpumem reads GPUMEM_LIMIT/);
});

t.test("a per-GPU limit for a GPU the container does not have is refused: it would leave that GPU unlimited", async (t) => {
  const one = limitRequest({ 'gpumem.io/limit.1': '64m' }, {});
  t.throws(() => resolveBudget(one!, undefined, 1), {
    message: "gpumem: annotation gpumem.io/limit.1 is for the container's GPU 1, but it sees 1 GPU (index 0); use annotation gpumem.io/limit for every GPU, or an index it has",
  });
  const env = limitRequest({}, { GPUMEM_LIMIT_3: '64m' });
  t.throws(() => resolveBudget(env!, undefined, 2), { message: /environment variable GPUMEM_LIMIT_3 is for the container's GPU 3, but it sees 2 GPUs \(index 0-1\)/ });
  t.throws(() => resolveBudget(one!, undefined, 0), { message: /but it sees no GPU/ });
  t.same([...resolveBudget(one!, undefined, 2).perGpu], [[1, 64 * MiB]], 'a GPU it has is fine');
  t.same([...resolveBudget(one!, undefined, undefined).perGpu], [[1, 64 * MiB]], 'unknown count (no device list): not judged');
});
