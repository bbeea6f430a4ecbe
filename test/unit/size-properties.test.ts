/** Properties of the size and limit grammar as TypeScript reaches it through FFI (lib/ffi/native.ts), over generated input. */
import t from 'tap';
import fc from 'fast-check';
import { NativeError, parseLimit, parseSize } from '../../lib/ffi/native.js';

const WHAT = 'annotation gpumem.io/limit';
const RUNS = { numRuns: 1000 };
const SHIFT: Record<string, bigint> = { b: 0n, k: 10n, m: 20n, g: 30n, t: 40n, p: 50n };

/** Any mix of cases: the grammar's letters mean the same in upper and lower case. */
const anyCase = (s: string): fc.Arbitrary<string> =>
  fc.array(fc.boolean(), { minLength: s.length, maxLength: s.length }).map((up) => [...s].map((c, i) => (up[i] ? c.toUpperCase() : c)).join(''));

/** A unit as a person might write it: g, G, gb, GiB, gib, ... (b alone takes no i or b). */
const unitText = fc
  .constantFrom('b', 'k', 'm', 'g', 't', 'p')
  .chain((u) => fc.tuple(fc.constant(u), u === 'b' ? fc.constant('b') : fc.constantFrom(u, u + 'b', u + 'i', u + 'ib')))
  .chain(([u, spelled]) => fc.tuple(fc.constant(u), anyCase(spelled), fc.constantFrom('', ' ')));

/** Text over the grammar's own characters and its near misses, so most of it lands near the border. */
const grammarish = fc.string({ unit: fc.constantFrom(...'0123456789..%  bkmgtpiBKMGTPI-+e,x\t\n"\\é'), maxLength: 24 });
/** Anything at all except NUL, which no C string can hold (request.ts refuses it before C). */
const anyText = fc.oneof(grammarish, fc.string({ unit: 'binary', maxLength: 80 })).filter((s) => !s.includes('\0'));

/** What C accepts, as a regular expression: digits with an optional point, an optional unit; or N[.N]%. */
const SIZE_SHAPE = /^(\d+\.?\d*|\.\d+) ?(b|[kmgtp]i?b?)?$/i;
const PERCENT_SHAPE = /^\d+(\.\d+)?%$/;

t.test('every whole number of bytes up to 2^62 reads back as exactly itself, as a size and as a limit (past 2^53 too)', async () => {
  fc.assert(
    fc.property(fc.bigInt({ min: 1n, max: 1n << 62n }), (n) => parseSize(String(n)) === n && (parseLimit(WHAT, String(n)) as { bytes: bigint }).bytes === n),
    RUNS,
  );
});

t.test('N with any spelling of a unit is exactly N times the binary multiple', async () => {
  fc.assert(
    fc.property(fc.bigInt({ min: 1n, max: 1n << 40n }), unitText, (n, [u, spelled, space]) => {
      const want = n << (SHIFT[u] as bigint);
      fc.pre(want <= 1n << 62n);
      const text = `${n}${space}${spelled}`;
      return parseSize(text) === want && (parseLimit(WHAT, text) as { bytes: bigint }).bytes === want;
    }),
    RUNS,
  );
});

t.test('a decimal size is the exact fraction of the unit, rounded down to a whole byte', async () => {
  fc.assert(
    fc.property(fc.bigInt({ min: 0n, max: 1000n }), fc.stringMatching(/^\d{1,9}$/), unitText, (whole, frac, [u, spelled]) => {
      const unit = 1n << (SHIFT[u] as bigint);
      const want = whole * unit + (BigInt(frac) * unit) / 10n ** BigInt(frac.length);
      fc.pre(want > 0n && want <= 1n << 62n);
      return parseSize(`${whole}.${frac}${spelled}`) === want;
    }),
    RUNS,
  );
});

t.test('a value accepted in one case means the same bytes in any other case; padding is refused, never read differently', async () => {
  fc.assert(
    fc.property(anyText, fc.constantFrom(' ', '\t', '\n', '\r'), (text, pad) => {
      let bytes: bigint;
      try {
        bytes = parseSize(text);
      } catch {
        return true;
      }
      for (const variant of [text.toUpperCase(), text.toLowerCase()]) if (parseSize(variant) !== bytes) return false;
      for (const padded of [pad + text, text + pad]) {
        try {
          parseLimit(WHAT, padded);
          return false;
        } catch (e) {
          if (!(e instanceof NativeError) || !/has spaces around the value|is not a valid limit/.test(e.message)) return false;
        }
      }
      return true;
    }),
    RUNS,
  );
});

t.test('whatever the text, a limit is a size or a percent of the documented shape, or one NativeError line naming the key', async () => {
  fc.assert(
    fc.property(anyText, (text) => {
      try {
        const l = parseLimit(WHAT, text);
        if ('bytes' in l) return SIZE_SHAPE.test(text) && l.bytes > 0n;
        return PERCENT_SHAPE.test(text) && l.num > 0n && l.num <= 100n * l.den && l.percent > 0 && l.percent <= 100;
      } catch (e) {
        return (
          e instanceof NativeError &&
          e.message.startsWith(`${WHAT}="`) &&
          !/[\n\r]/.test(e.message) &&
          /; use a size like 512m, 8g or 8GiB .* or a percent of the GPU like 50%$|a percent must be above 0 and at most 100$/.test(e.message)
        );
      }
    }),
    { numRuns: 3000 },
  );
});

t.test('a size is refused only with a NativeError, and accepted only in the documented shape', async () => {
  fc.assert(
    fc.property(anyText, (text) => {
      try {
        const bytes = parseSize(text);
        return SIZE_SHAPE.test(text) && bytes > 0n;
      } catch (e) {
        return e instanceof NativeError && e.message.length > 0;
      }
    }),
    { numRuns: 3000 },
  );
});
