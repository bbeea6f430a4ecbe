// Every refusal is one line, however hostile the value or key it names: control characters are
// escaped as JSON writes them, and a long value is cut, saying how long it was.
import t from 'tap';
import { checkNamespace } from '../../lib/budget/namespace.js';
import { limitRequest } from '../../lib/budget/request.js';
import { oneLine, parseSize, quote, quoteName } from '../../lib/ffi/native.js';

const refusal = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('not refused');
};

t.test('a value with a newline is shown on one line, the newline as \\n, quoted as JSON would', async (t) => {
  t.equal(quote('8g\nlimit 1'), '"8g\\nlimit 1"');
  t.equal(quote('a"b\\c\r\td'), '"a\\"b\\\\c\\r\\td"');
  t.equal(quote('\u0000\u001b[31m\u007f'), '"\\u0000\\u001b[31m\\u007f"', 'NUL, an escape sequence and DEL');
  t.equal(quote('\u0085\u2028\u2029'), '"\\u0085\\u2028\\u2029"', 'the line breaks of Unicode too');
  t.equal(quote('8 GiB é 中'), '"8 GiB é 中"', 'other characters are kept as they are');
});

t.test('a 10,000-character value is cut after 64 characters, and the message says how long it was', async (t) => {
  t.equal(quote('9'.repeat(10_000)), `"${'9'.repeat(64)}…" (10000 characters)`);
  t.equal(quote('é'.repeat(65)), `"${'é'.repeat(64)}…" (65 characters)`, 'characters, not bytes');
  t.equal(quote('x'.repeat(64)), `"${'x'.repeat(64)}"`, '64 characters are shown whole');
});

t.test('a key is shown as it is when plain, and quoted when it holds spaces, quotes or control characters', async (t) => {
  t.equal(quoteName('GPUMEM_LIMIT_X'), 'GPUMEM_LIMIT_X');
  t.equal(quoteName('gpumem.io/limit.x'), 'gpumem.io/limit.x');
  t.equal(quoteName('gpumem.io/limit\nx'), '"gpumem.io/limit\\nx"');
  t.equal(quoteName(' gpumem.io/limit'), '" gpumem.io/limit"');
  t.equal(quoteName(''), '""');
  t.equal(quoteName('K'.repeat(100)), `"${'K'.repeat(64)}…" (100 characters)`);
});

t.test('a whole message keeps its words and quotes and loses only its line breaks', async (t) => {
  t.equal(oneLine('gpumem: "a"\nb\tc'), 'gpumem: "a"\\nb\\tc');
});

// Hostile keys and values at every place a refusal names them.
const hostile = ['8g\nlimit 1', '\r\n', 'x'.repeat(10_000), '"\\\u001b[2J', '\u2028'];

t.test('refusals of annotation values, annotation keys and variables are each one short line', async (t) => {
  const messages: string[] = [];
  for (const h of hostile) {
    messages.push(refusal(() => limitRequest({ 'gpumem.io/limit': h }, {})));
    messages.push(refusal(() => limitRequest({ 'gpumem.io/limit.0': `8g${h}` }, {})));
    messages.push(refusal(() => checkNamespace({ [`gpumem.io/${h}`]: '8g' }, {})));
    messages.push(refusal(() => checkNamespace({}, { [`GPUMEM_${h}`]: '8g' })));
    messages.push(refusal(() => limitRequest({}, { GPUMEM_LIMIT: h })));
    messages.push(refusal(() => limitRequest({}, { [`GPUMEM_LIMIT_${h}`]: '8g' })));
    messages.push(refusal(() => parseSize(h)));
    messages.push(...checkNamespace({ [`x.gpumem.io/${h}`]: '8g' }, { [`gpumem_${h}`]: '1' }));
  }
  for (const m of messages) {
    t.notMatch(m, /[\n\r\u2028\u0000-\u001f]/, `one line: ${m.slice(0, 60)}`);
    t.ok(m.length < 600, `short: ${m.length} characters`);
  }
  t.match(refusal(() => limitRequest({ 'gpumem.io/limit': 'x'.repeat(10_000) }, {})),
    /^gpumem: annotation gpumem\.io\/limit="x{64}…" \(10000 characters\) is not a valid limit; use /);
  t.match(refusal(() => limitRequest({}, { 'GPUMEM_LIMIT\nX': '1g' })), /^gpumem: unknown environment variable "GPUMEM_LIMIT\\nX"; accepted: /);
});
