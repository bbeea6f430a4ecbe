// Refusals of the create step: each one line, to the engine and in the decision log, however
// hostile the spec; and sizes past 2^53 bytes written exactly.
import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readBudgets } from '../../lib/ffi/native.js';
import { ACCEPTED_VALUES } from '../../lib/budget/request.js';
import { create, setup, type Case } from './fixtures/create.js';

/** The decision log's lines, parsed. */
const decisionLog = (c: Case): Record<string, unknown>[] =>
  readFileSync(join(c.state, '..', 'gpumem.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));

t.test('every refusal is one line of the decision log: the container, the message, outcome refused', async (t) => {
  const c = setup(t, { 'gpumem.io/limit': '12parsecs' }, []);
  const o = create(c, 'ctr-l');
  const refused = decisionLog(c).filter((l) => l.outcome === 'refused');
  t.same(refused.map((l) => ({ container: l.container, msg: l.msg })), [{ container: 'ctr-l', msg: o.message }]);
  t.equal(refused[0]?.level, 50, 'at level error');
});

t.test('a value with a newline, or 10,000 characters long, is refused in one line, to the engine and in the log', async (t) => {
  const c = setup(t, { 'gpumem.io/limit': '8g\nlimit 1', 'gpumem.io/limit.0': 'x'.repeat(10_000) }, []);
  const o = create(c, 'ctr-m');
  t.equal(o.message, `gpumem: annotation gpumem.io/limit="8g\\nlimit 1" is not a valid limit; use ${ACCEPTED_VALUES}`);
  const d = setup(t, { 'gpumem.io/limit.0': 'x'.repeat(10_000) }, []);
  t.match(create(d, 'ctr-n').message, /^gpumem: annotation gpumem\.io\/limit\.0="x{64}…" \(10000 characters\) is not a valid limit/);
  for (const k of [c, d]) {
    const runcLog = readFileSync(k.runcLog, 'utf8');
    t.equal(runcLog.trim().split('\n').length, 1, "one line in runc's log");
    t.ok(runcLog.length < 700, `a short one: ${runcLog.length} characters`);
  }
});

t.test('a spec that is not JSON is refused in one line, though the parser quotes its broken lines', async (t) => {
  const c = setup(t, {}, []);
  writeFileSync(join(c.bundle, 'config.json'), '{"a":\n\n x}'); // V8's message quotes this whole
  const o = create(c, 'ctr-o');
  t.notOk(o.ok);
  t.match(o.message, /not valid JSON/);
  t.notMatch(o.message, /\n/, 'the newlines it quotes are shown as \\n');
  t.equal(readFileSync(c.runcLog, 'utf8').trim().split('\n').length, 1);
});

t.test('a size above 2^53 bytes is written to the config exactly (9007199254740993, not ...992)', async (t) => {
  const c = setup(t, { 'gpumem.io/limit': '9007199254740993' }, []); // no GPUs listed: no size check
  t.ok(create(c, 'ctr-p').ok);
  t.equal(readBudgets(join(c.state, 'ctr-p', 'config', 'gpumem.conf')).all, 9007199254740993n);
  t.match(readFileSync(join(c.state, 'ctr-p', 'config', 'gpumem.conf'), 'utf8'), /^limit 9007199254740993$/m);
  t.match(readFileSync(join(c.state, '..', 'gpumem.log'), 'utf8'), /"limit":9007199254740993[,}]/, 'and logged exactly');
});
