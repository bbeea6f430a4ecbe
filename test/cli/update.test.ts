// gpumem update reads its values by the annotations' own grammar: what one takes the other takes,
// what one refuses the other refuses in gpumem's one line, and sizes past 2^53 bytes stay exact.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { ACCEPTED_VALUES, limitRequest } from '../../lib/budget/request.js';
import { readBudgets } from '../../lib/ffi/native.js';
import { host } from './fixtures/limited.js';

const GiB = 2n ** 30n;
const ID = 'a'.repeat(64);
const SIZES = ACCEPTED_VALUES.replace(/ or a percent.*$/, '');

t.test("--limit -64m, from the program itself, gets gpumem's own one-line refusal and exit 1, not the option parser's", async (t) => {
  const h = host(t);
  const { config } = h.add(ID, GiB);
  const r = await h.gpumem(['update', ID, '--limit', '-64m']);
  t.equal(r.status, 1);
  t.equal(r.stderr, `gpumem: --limit="-64m" is not a valid limit; use ${SIZES}\n`);
  t.equal(readBudgets(config).all, GiB, 'nothing changed');
});

t.test('gpumem update takes every spelling an annotation takes: any case, i and b, one space, fractions', async (t) => {
  const h = host(t);
  const { config } = h.add(ID, GiB);
  for (const v of ['8G', '8GiB', '8 gb', '1.5g', '512M', '08g', '4096k']) {
    const r = await h.update([ID, '--limit', v]);
    t.same(r, { stdout: ID + '\n' }, v);
    const annotation = limitRequest({ 'gpumem.io/limit': v }, {})?.all as { bytes: bigint };
    t.equal(readBudgets(config).all, annotation.bytes, `${JSON.stringify(v)} is the annotation's ${annotation.bytes} bytes`);
  }
});

t.test('padding is refused as the annotation refuses it, in one line, and the budget stays', async (t) => {
  const h = host(t);
  const { config } = h.add(ID, GiB);
  for (const v of [' 8g', '8g ', '8g\n']) {
    t.same(await h.update([ID, `--limit=${v}`]), { refused: `gpumem: --limit=${JSON.stringify(v)} has spaces around the value; use ${SIZES}` }, JSON.stringify(v));
  }
  t.equal(readBudgets(config).all, GiB);
});

t.test('a dash-led value reaches the grammar in every form: --limit -64m, --limit=-64m, --gpu-limit 0=-64m', async (t) => {
  const h = host(t);
  h.add(ID, GiB);
  for (const args of [['--limit', '-64m'], ['--limit=-64m'], ['--gpu-limit', '0=-64m']]) {
    const what = args[0] === '--gpu-limit' ? '--gpu-limit 0' : '--limit';
    t.same(await h.update([ID, ...args]), { refused: `gpumem: ${what}="-64m" is not a valid limit; use ${SIZES}` }, args.join(' '));
  }
});

t.test('a percent is refused saying update takes sizes; a repeated --limit is refused, not half-read', async (t) => {
  const h = host(t);
  h.add(ID, GiB);
  for (const v of ['50%', '150%']) {
    t.same(await h.update([ID, '--limit', v]), { refused: `gpumem: --limit="${v}" is a percent; gpumem update takes ${SIZES}` }, v);
  }
  t.match(await h.update([ID, '--limit', '8g', '--limit', '4g']), { refused: /^gpumem: --limit is given 2 times; give it once/ });
});

t.test('a size above 2^53 bytes is written exactly: 9007199254740993 bytes, not 9007199254740992', async (t) => {
  const h = host(t);
  const { config } = h.add(ID, GiB);
  t.same(await h.update([ID, '--limit', '9007199254740993', '--gpu-limit', '1=9007199254740995b']), { stdout: ID + '\n' });
  t.equal(readBudgets(config).all, 9007199254740993n);
  t.equal(readBudgets(config).perGpu.get(1), 9007199254740995n);
  t.match(readFileSync(config, 'utf8'), /^limit 9007199254740993\nlimit\.1 9007199254740995\n$/m);
});

t.test('a 10,000-character value is named in one short line', async (t) => {
  const h = host(t);
  h.add(ID, GiB);
  const r = await h.update([ID, '--limit', '9'.repeat(10_000) + 'x']);
  t.match(r, { refused: /^gpumem: --limit="9{64}…" \(10001 characters\) is not a valid limit; use [^\n]*$/ });
});
