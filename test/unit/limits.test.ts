import t from 'tap';
import { parseSize } from '../../lib/ffi/native.js';
import { ACCEPTED_VALUES, LimitError, limitRequest } from '../../lib/budget/request.js';
import { resolveBudget } from '../../lib/budget/resolve.js';

const GiB = 2 ** 30;
const MiB = 2 ** 20;

t.test('sizes read like docker run --memory: binary units, optional i and b, any case', async (t) => {
  const size = (s: string) => Number(parseSize(s));
  for (const s of ['8g', '8G', '8GiB', '8gb', '8GB', '8gib', '8 GiB']) t.equal(size(s), 8 * GiB, s);
  t.equal(size('512m'), 512 * MiB);
  t.equal(size('1.5g'), 1.5 * GiB);
  t.equal(size('100'), 100);
  t.equal(size('100b'), 100);
  t.equal(size('4k'), 4096);
  t.equal(size('2t'), 2 * 2 ** 40);
  t.equal(size('1p'), 2 ** 50);
});

t.test('sizes above 2^53 bytes are read exactly, where a number would round', async (t) => {
  t.equal(parseSize('9007199254740993'), 9007199254740993n);
  t.equal(parseSize('8191.999999999p'), 8191n * 2n ** 50n + (2n ** 50n * 999999999n) / 10n ** 9n, 'a fraction of a large unit too, floored exactly');
  t.same(limitRequest({ 'gpumem.io/limit': '9007199254740993' }, {})?.all, { bytes: 9007199254740993n });
  t.same(resolveBudget(limitRequest({ 'gpumem.io/limit.0': '9007199254740993b' }, {})!, undefined).perGpu.get(0), 9007199254740993n);
});

t.test('garbage, zero, negative and empty sizes are refused', async (t) => {
  for (const s of ['12parsecs', '0', '0g', '-1', '-1g', '', ' ', '1x', 'g', '8gg', '1e9', '99999999999p']) {
    t.throws(() => parseSize(s), undefined, JSON.stringify(s));
  }
});

t.test('a bad annotation names the key and the accepted forms', async (t) => {
  t.throws(() => limitRequest({ 'gpumem.io/limit': '12parsecs' }, {}), {
    message: 'gpumem: annotation gpumem.io/limit="12parsecs" is not a valid limit; use a size like 512m, 8g or 8GiB (a number with an optional unit b, k, m, g, t or p; binary multiples) or a percent of the GPU like 50%',
  });
  t.throws(() => limitRequest({ 'gpumem.io/limti': '8g' }, {}), {
    message: /unknown annotation gpumem\.io\/limti; accepted: gpumem\.io\/limit, gpumem\.io\/limit\.<GPU index 0-63> or gpumem\.io\/limit\.<GPU-UUID or MIG-UUID>/,
  });
  t.throws(() => limitRequest({ 'gpumem.io/limit': '150%' }, {}), { message: /at most 100/ });
  t.throws(() => limitRequest({}, { GPUMEM_LIMIT_X: '1g' }), { message: /unknown environment variable GPUMEM_LIMIT_X/ });
  t.throws(() => limitRequest({}, { GPUMEM_LIMIT: 'lots' }), LimitError);
});

t.test('annotations win over the environment; per-GPU keys are read', async (t) => {
  const r = limitRequest({ 'gpumem.io/limit': '8g', 'gpumem.io/limit.1': '2g', other: 'x' }, { GPUMEM_LIMIT: '1g' });
  t.same(r, { source: 'annotation', all: { bytes: 8 * GiB }, perGpu: new Map([[1, { bytes: 2 * GiB }]]) });
  t.same(limitRequest({}, { GPUMEM_LIMIT: '64m', GPUMEM_LIMIT_0: '32m' }), {
    source: 'env',
    all: { bytes: 64 * MiB },
    perGpu: new Map([[0, { bytes: 32 * MiB }]]),
  });
  t.equal(limitRequest({ 'com.example': 'x' }, { PATH: '/bin' }), undefined, 'no limit asked');
});

t.test('a percent is taken of each GPU, and a limit over the GPU is refused', async (t) => {
  const gpus = new Map([[0, 80 * GiB], [1, 40 * GiB]]);
  const r = limitRequest({ 'gpumem.io/limit': '50%' }, {})!;
  t.same(resolveBudget(r, gpus).perGpu, new Map([[0, 40 * GiB], [1, 20 * GiB]]));
  t.throws(() => resolveBudget(r, undefined), { message: /needs the GPU's memory size/ });
  const big = limitRequest({ 'gpumem.io/limit': '100g' }, {})!;
  t.throws(() => resolveBudget(big, gpus), { message: /more than the GPU's/ });
  t.same(resolveBudget(big, undefined), { all: 100 * GiB, perGpu: new Map() });
});

const HELP = ACCEPTED_VALUES;
const env = (e: Record<string, string>) => () => limitRequest({}, e);

t.test('GPUMEM_LIMIT= (set but empty) is refused, naming the variable and the accepted forms', async (t) => {
  t.throws(env({ GPUMEM_LIMIT: '' }), { name: 'LimitError', message: `gpumem: environment variable GPUMEM_LIMIT="" is empty; use ${HELP}` });
  t.throws(env({ GPUMEM_LIMIT_1: '' }), { message: /^gpumem: environment variable GPUMEM_LIMIT_1="" is empty; use / });
  t.throws(() => limitRequest({ 'gpumem.io/limit': '' }, {}), { message: `gpumem: annotation gpumem.io/limit="" is empty; use ${HELP}` });
});

t.test('only GPUMEM_LIMIT and GPUMEM_LIMIT_<0-63> are limit variables; any other GPUMEM_LIMIT* is refused', async (t) => {
  for (const key of ['GPUMEM_LIMIT_X', 'GPUMEM_LIMITS', 'GPUMEM_LIMIT_64', 'GPUMEM_LIMIT_01', 'GPUMEM_LIMIT_', 'GPUMEM_LIMIT_-1', 'GPUMEM_LIMIT_1_', 'GPUMEM_LIMITED']) {
    t.throws(env({ [key]: '1g' }), {
      message: `gpumem: unknown environment variable ${key}; accepted: GPUMEM_LIMIT or GPUMEM_LIMIT_<GPU index 0-63>`,
    }, key);
  }
  t.same(limitRequest({}, { GPUMEM_LIMIT_0: '1g', GPUMEM_LIMIT_63: '2g', GPUMEM_LIMIT_10: '3g' })?.perGpu,
    new Map([[0, { bytes: GiB }], [63, { bytes: 2 * GiB }], [10, { bytes: 3 * GiB }]]));
  t.equal(limitRequest({}, { GPUMEM_STATE_DIR: '/tmp/x', GPUMEM_DEBUG: '1', PATH: '/bin' }), undefined,
    'GPUMEM_STATE_DIR and other GPUMEM_ variables are not limits');
});

t.test('a percent is N% or N.N% in (0, 100], kept exactly as a ratio', async (t) => {
  t.same(limitRequest({}, { GPUMEM_LIMIT: '50%' })?.all, { percent: 50, num: 50n, den: 1n }, 'GPUMEM_LIMIT=50% is a percent, as the annotation is');
  t.same(limitRequest({ 'gpumem.io/limit': '12.5%' }, {})?.all, { percent: 12.5, num: 125n, den: 10n });
  t.same(limitRequest({ 'gpumem.io/limit': '50.000%' }, {})?.all, { percent: 50, num: 50n, den: 1n }, 'trailing zeros');
  t.same(limitRequest({ 'gpumem.io/limit': '100%' }, {})?.all, { percent: 100, num: 100n, den: 1n });
  t.same(limitRequest({ 'gpumem.io/limit': '0.00000000001%' }, {})?.all, { percent: 1e-11, num: 1n, den: 10n ** 11n });
  for (const v of ['0%', '0.0%', '100.1%', '101%', '150%', '1000000000000000000000%']) {
    t.throws(() => limitRequest({ 'gpumem.io/limit': v }, {}), {
      message: `gpumem: annotation gpumem.io/limit="${v}" is out of range; a percent must be above 0 and at most 100`,
    }, v);
  }
  for (const v of ['50 %', '5.%', '.5%', '%', '-5%', '1e2%', '50%%', '5,5%', '0.000000000000000001%']) {
    t.throws(() => limitRequest({ 'gpumem.io/limit': v }, {}), { message: /is not a valid limit/ }, v);
  }
});

t.test('no whitespace around a value, in an annotation or a variable (docker run --memory refuses it too)', async (t) => {
  for (const v of [' 8g ', '8g ', ' 8g', '\t8g', '8g\n', ' 50%']) {
    t.throws(env({ GPUMEM_LIMIT: v }), { message: /^gpumem: environment variable GPUMEM_LIMIT=".*" has spaces around the value; use / }, JSON.stringify(v));
    t.throws(() => limitRequest({ 'gpumem.io/limit': v }, {}), { message: /has spaces around the value/ }, JSON.stringify(v));
  }
  t.same(limitRequest({}, { GPUMEM_LIMIT: '8 g' })?.all, { bytes: 8 * GiB }, 'one space between number and unit, as docker allows');
  t.throws(env({ GPUMEM_LIMIT: '8g\nlimit 1' }), { message: 'gpumem: environment variable GPUMEM_LIMIT="8g\\nlimit 1" is not a valid limit; use ' + HELP },
    'a newline in a value is shown escaped: the message stays one line');
});

t.test('a percent that resolves to 0 bytes is refused at resolve, never written as "no limit"', async (t) => {
  const gpus = new Map([[0, 80 * GiB], [1, 40 * GiB]]);
  const tiny = limitRequest({ 'gpumem.io/limit': '0.00000000001%' }, {})!;
  t.throws(() => resolveBudget(tiny, gpus), {
    name: 'LimitError',
    message: `gpumem: annotation gpumem.io/limit="0.00000000001%" resolves to 0 bytes on GPU 0 (of ${80 * GiB} bytes); use a larger percent or a size like 512m`,
  });
  const env1 = limitRequest({}, { GPUMEM_LIMIT: '8g', GPUMEM_LIMIT_1: '0.00000000001%' })!;
  t.throws(() => resolveBudget(env1, gpus), { message: /^gpumem: environment variable GPUMEM_LIMIT_1="0.00000000001%" resolves to 0 bytes on GPU 1 / });
  // 1e-9 % of 80 GiB = 0.86 bytes: still 0; 1e-8 % = 8.59 bytes: 8.
  t.throws(() => resolveBudget(limitRequest({ 'gpumem.io/limit.0': '0.000000001%' }, {})!, gpus), { message: /resolves to 0 bytes on GPU 0/ });
  t.same(resolveBudget(limitRequest({ 'gpumem.io/limit.0': '0.00000001%' }, {})!, gpus).perGpu, new Map([[0, 8]]));
});

t.test('percents are exact: floor(size * percent / 100) in integers, not doubles', async (t) => {
  const exact = (size: number, num: bigint, den: bigint) => Number((BigInt(size) * num) / (100n * den));
  const gpus = new Map([[0, 80 * GiB], [1, 81559 * MiB + 7]]);
  for (const p of ['33.3', '12.3456789012345', '99.99999999999999999', '50']) {
    const r = limitRequest({ 'gpumem.io/limit': `${p}%` }, {})!;
    const l = r.all as { num: bigint; den: bigint };
    t.same(resolveBudget(r, gpus).perGpu, new Map([[0, exact(80 * GiB, l.num, l.den)], [1, exact(81559 * MiB + 7, l.num, l.den)]]), `${p}%`);
  }
  t.throws(() => resolveBudget(limitRequest({ 'gpumem.io/limit': '33.3%' }, {})!, new Map([[0, 3]])), { message: /resolves to 0 bytes on GPU 0 \(of 3 bytes\)/ },
    '33.3% of 3 bytes is 0.999: 0');
});

t.test('the accepted forms TypeScript shows (gpumem update) are the C grammar\'s own', async (t) => {
  t.throws(() => limitRequest({ 'gpumem.io/limit': 'x' }, {}), { message: new RegExp(`; use ${ACCEPTED_VALUES.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`) });
});
