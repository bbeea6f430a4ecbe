/** Properties of reading a container's request (lib/budget/request.ts, namespace.ts) over generated annotations and environments. */
import t from 'tap';
import fc from 'fast-check';
import { checkNamespace } from '../../lib/budget/namespace.js';
import { envRecord, LimitError, limitRequest } from '../../lib/budget/request.js';
import { parseLimit, quoteName } from '../../lib/ffi/native.js';

const RUNS = { numRuns: 1000 };
const PREFIX = 'gpumem.io/';
/** The keys gpumem reads: gpumem.io/limit, gpumem.io/limit.<0-63> (one spelling each) and gpumem.io/limit.<GPU or MIG UUID>. */
const READ_KEY = /^gpumem\.io\/limit(\.(0|[1-9]\d?))?$/;
const H = '[0-9a-fA-F]';
const UUID_KEY = new RegExp(`^gpumem\\.io/limit\\.([Gg][Pp][Uu]|[Mm][Ii][Gg])-${H}{8}-${H}{4}-${H}{4}-${H}{4}-${H}{12}$`); // the UUID in any case, the rest as written
const understood = (key: string): boolean =>
  UUID_KEY.test(key) || (READ_KEY.test(key) && (!key.includes('.', PREFIX.length) || Number(key.slice(PREFIX.length + 6)) < 64));

/** The text as written half the time, else in any mix of cases. */
const anyCase = (s: string): fc.Arbitrary<string> =>
  fc.oneof(
    fc.constant(s),
    fc.array(fc.boolean(), { minLength: s.length, maxLength: s.length }).map((up) => [...s].map((c, i) => (up[i] ? c.toUpperCase() : c)).join('')),
  );
/** Printable text, and text with anything in it (control characters, NUL, any code point). */
const printable = fc.string({ unit: 'grapheme-ascii', maxLength: 20 });
const binary = fc.string({ unit: 'binary', maxLength: 40 });
/** Suffixes near the real keys: limit, limit.7, limit.07, limit.64, limits, LIMIT.1, limit.1x, ... */
const nearSuffix = fc.oneof(
  fc.tuple(anyCase('limit'), fc.constantFrom('', '.', '.0', '.00', '.1', '.01', '.63', '.64', '.99', '.100', '.-1', '.1 ', 's', '_1', '.x')).map(([a, b]) => a + b),
  fc.nat({ max: 120 }).map((i) => `limit.${i}`),
  // UUID keys and near misses of them: a prefix in any case, hex cut short, an extra character
  fc.tuple(fc.constantFrom('GPU-', 'MIG-', 'gpu-', 'GPU', 'GPU_', 'CPU-'), fc.uuid(), fc.constantFrom('', 'x', '-', ' ')).map(([p, u, x]) => `limit.${p}${u}${x}`),
  fc.uuid().map((u) => `limit.GPU-${u.slice(0, 30)}`),
  printable,
);
const value = fc.oneof(fc.constantFrom('8g', '512m', '50%', '100%', '0', '', ' 8g', '8g\n', 'lots', '101%', '8g\0junk', '1e3'), printable, binary);

/** Every message a user sees: one line, from gpumem. */
const oneLine = (e: unknown): boolean => e instanceof LimitError && e.message.startsWith('gpumem: ') && !/[\n\r]/.test(e.message);

t.test('any gpumem.io/ key, in any case, that gpumem does not read is refused naming the key; the ones it reads pass', async () => {
  fc.assert(
    fc.property(anyCase('gpumem.io/'), nearSuffix, (prefix, suffix) => {
      const key = prefix + suffix;
      try {
        checkNamespace({ [key]: '8g' }, {});
        return understood(key);
      } catch (e) {
        return !understood(key) && e instanceof LimitError && e.message === `gpumem: unknown annotation ${quoteName(key)}; accepted: gpumem.io/limit, gpumem.io/limit.<GPU index 0-63> or gpumem.io/limit.<GPU-UUID or MIG-UUID> (lower case)`;
      }
    }),
    { numRuns: 3000 },
  );
});

t.test('two keys gpumem reads never name the same GPU', async () => {
  fc.assert(
    fc.property(fc.nat({ max: 63 }), fc.nat({ max: 3 }), (i, zeros) => {
      const spellings = [String(i), '0'.repeat(zeros + 1) + String(i)].map((s) => `gpumem.io/limit.${s}`);
      return spellings.filter((k) => {
        try {
          checkNamespace({ [k]: '1g' }, {});
          return true;
        } catch {
          return false;
        }
      }).length === 1;
    }),
    RUNS,
  );
});

t.test('a value under a key gpumem reads is the C grammar\'s limit, or one line naming the key (NUL included)', async () => {
  fc.assert(
    fc.property(fc.constantFrom('gpumem.io/limit', 'gpumem.io/limit.0', 'gpumem.io/limit.63'), value, (key, v) => {
      try {
        const req = limitRequest({ [key]: v }, {});
        const got = key === 'gpumem.io/limit' ? req?.all : req?.perGpu.get(Number(key.split('.').pop()));
        return !v.includes('\0') && req?.source === 'annotation' && JSON.stringify(got, big) === JSON.stringify(parseLimit('x', v), big);
      } catch (e) {
        return oneLine(e) && e instanceof LimitError && e.message.startsWith(`gpumem: annotation ${key}`);
      }
    }),
    { numRuns: 3000 },
  );
});

t.test('GPUMEM_LIMIT* variables read as the C grammar\'s limits, or one line naming the variable; annotations win', async () => {
  const limitKey = fc.oneof(
    fc.constantFrom('GPUMEM_LIMIT', 'GPUMEM_LIMIT_0', 'GPUMEM_LIMIT_63', 'GPUMEM_LIMIT_64', 'GPUMEM_LIMIT_01', 'GPUMEM_LIMITS', 'GPUMEM_LIMIT_', 'GPUMEM_LIMIT\0X'),
    fc.nat({ max: 70 }).map((i) => `GPUMEM_LIMIT_${i}`),
  );
  fc.assert(
    fc.property(fc.array(fc.tuple(limitKey, value), { maxLength: 4 }), fc.boolean(), (pairs, annotated) => {
      const env = Object.fromEntries(pairs);
      const annotations: Record<string, string> = annotated ? { 'gpumem.io/limit': '1g' } : {};
      if (annotated) {
        // The annotation wins, but the variables are judged all the same: refused exactly when
        // they would be on their own, with the same line.
        const alone = (() => { try { limitRequest({}, env); return null; } catch (e) { return (e as Error).message; } })();
        try {
          const req = limitRequest(annotations, env);
          return alone === null && req?.source === 'annotation';
        } catch (e) {
          return alone !== null && oneLine(e) && (e as Error).message === alone;
        }
      }
      try {
        const req = limitRequest(annotations, env);
        if (pairs.length === 0) return req === undefined;
        // Accepted: every key is one of the two forms and every value parses to what the request holds.
        return Object.entries(env).every(([k, v]) => {
          const got = k === 'GPUMEM_LIMIT' ? req?.all : req?.perGpu.get(Number(k.slice(13)));
          return /^GPUMEM_LIMIT(_(0|[1-9]\d?))?$/.test(k) && JSON.stringify(got, big) === JSON.stringify(parseLimit('x', v), big);
        });
      } catch (e) {
        return oneLine(e) && /^gpumem: (unknown )?environment variable "?GPUMEM_LIMIT/.test(e instanceof Error ? e.message : '');
      }
    }),
    { numRuns: 3000 },
  );
});

t.test('an OCI env list reads as KEY=value with the last one winning; entries without a key are dropped', async () => {
  fc.assert(
    fc.property(fc.array(fc.string({ maxLength: 8 }), { maxLength: 8 }), (list) => {
      const rec = envRecord(list);
      const want = new Map<string, string>();
      for (const kv of list) if (kv.indexOf('=') > 0) want.set(kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1));
      return Object.keys(rec).length === want.size && [...want].every(([k, v]) => rec[k] === v);
    }),
    RUNS,
  );
});

t.test('nothing in an annotation or variable makes the request throw anything but LimitError', async () => {
  fc.assert(
    fc.property(fc.dictionary(fc.oneof(binary, anyCase('gpumem.io/limit')), value, { maxKeys: 3 }), fc.dictionary(fc.oneof(binary, fc.constant('GPUMEM_LIMIT')), value, { maxKeys: 3 }), (ann, env) => {
      try {
        checkNamespace(ann, env);
        limitRequest(ann, env);
        return true;
      } catch (e) {
        return e instanceof LimitError;
      }
    }),
    { numRuns: 3000 },
  );
});

t.test(
  'a refused key is named on one line even when it holds a newline',
  async () => {
    fc.assert(
      fc.property(anyCase('gpumem.io/'), binary, (prefix, suffix) => {
        try {
          checkNamespace({ [prefix + suffix]: '8g' }, {});
          return true;
        } catch (e) {
          return oneLine(e);
        }
      }),
      RUNS,
    );
  },
);

function big(_k: string, v: unknown): unknown {
  return typeof v === 'bigint' ? `${v}n` : v;
}
