import t from 'tap';
import { parseSize } from '../../lib/ffi/native.js';
import { LimitError, limitRequest } from '../../lib/budget/request.js';
import { resolveBudget } from '../../lib/budget/resolve.js';

const GiB = 2 ** 30;
const MiB = 2 ** 20;

t.test('sizes read like docker run --memory: binary units, optional i and b, any case', async (t) => {
  for (const s of ['8g', '8G', '8GiB', '8gb', '8GB', '8gib', '8 GiB']) t.equal(parseSize(s), 8 * GiB, s);
  t.equal(parseSize('512m'), 512 * MiB);
  t.equal(parseSize('1.5g'), 1.5 * GiB);
  t.equal(parseSize('100'), 100);
  t.equal(parseSize('100b'), 100);
  t.equal(parseSize('4k'), 4096);
  t.equal(parseSize('2t'), 2 * 2 ** 40);
  t.equal(parseSize('1p'), 2 ** 50);
});

t.test('garbage, zero, negative and empty sizes are refused', async (t) => {
  for (const s of ['12parsecs', '0', '0g', '-1', '-1g', '', ' ', '1x', 'g', '8gg', '1e9', '99999999999p']) {
    t.throws(() => parseSize(s), undefined, JSON.stringify(s));
  }
});

t.test('a bad annotation names the key and the accepted forms', async (t) => {
  t.throws(() => limitRequest({ 'gpumem.io/limit': '12parsecs' }, {}, parseSize), {
    message: 'gpumem: annotation gpumem.io/limit="12parsecs" is not a valid limit; use a size like 512m, 8g or 8GiB (a number with an optional unit b, k, m, g, t or p; binary multiples) or a percent of the GPU like 50%',
  });
  t.throws(() => limitRequest({ 'gpumem.io/limti': '8g' }, {}, parseSize), {
    message: /unknown annotation gpumem\.io\/limti; accepted: gpumem\.io\/limit or gpumem\.io\/limit\.<GPU index 0-63>/,
  });
  t.throws(() => limitRequest({ 'gpumem.io/limit': '150%' }, {}, parseSize), { message: /at most 100/ });
  t.throws(() => limitRequest({}, { GPUMEM_LIMIT_X: '1g' }, parseSize), { message: /unknown environment variable GPUMEM_LIMIT_X/ });
  t.throws(() => limitRequest({}, { GPUMEM_LIMIT: 'lots' }, parseSize), LimitError);
});

t.test('annotations win over the environment; per-GPU keys are read', async (t) => {
  const r = limitRequest({ 'gpumem.io/limit': '8g', 'gpumem.io/limit.1': '2g', other: 'x' }, { GPUMEM_LIMIT: '1g' }, parseSize);
  t.same(r, { source: 'annotation', all: { bytes: 8 * GiB }, perGpu: new Map([[1, { bytes: 2 * GiB }]]) });
  t.same(limitRequest({}, { GPUMEM_LIMIT: '64m', GPUMEM_LIMIT_0: '32m' }, parseSize), {
    source: 'env',
    all: { bytes: 64 * MiB },
    perGpu: new Map([[0, { bytes: 32 * MiB }]]),
  });
  t.equal(limitRequest({ 'com.example': 'x' }, { PATH: '/bin' }, parseSize), undefined, 'no limit asked');
});

t.test('a percent is taken of each GPU, and a limit over the GPU is refused', async (t) => {
  const gpus = new Map([[0, 80 * GiB], [1, 40 * GiB]]);
  const r = limitRequest({ 'gpumem.io/limit': '50%' }, {}, parseSize)!;
  t.same(resolveBudget(r, gpus).perGpu, new Map([[0, 40 * GiB], [1, 20 * GiB]]));
  t.throws(() => resolveBudget(r, undefined), { message: /needs the GPU's memory size/ });
  const big = limitRequest({ 'gpumem.io/limit': '100g' }, {}, parseSize)!;
  t.throws(() => resolveBudget(big, gpus), { message: /more than the GPU's/ });
  t.same(resolveBudget(big, undefined), { all: 100 * GiB, perGpu: new Map() });
});
