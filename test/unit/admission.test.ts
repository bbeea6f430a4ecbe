import t from 'tap';
import fc from 'fast-check';
import { admit, roomOn, type LedgerEntry } from '../../lib/budget/admission.js';
import type { GpuBudget } from '../../lib/budget/plan.js';
import { DEFAULT_POLICY, parsePolicy, type Policy } from '../../lib/policy/policy.js';

const GiB = 2 ** 30;
const FILE = '/etc/gpumem/config.json';
const policy = (json: object): Policy => parsePolicy(JSON.stringify(json), FILE);
const U = 'GPU-aaaaaaaa-0000-0000-0000-000000000000';
const ask = (gib: number, uuid = U, totalGiB = 32): GpuBudget => ({ index: 0, uuid, totalBytes: totalGiB * GiB, bytes: BigInt(gib * GiB), from: 'annotation gpumem.io/limit' });
const held = (container: string, gib: number, uuid = U): LedgerEntry => ({ container, uuid, bytes: BigInt(gib * GiB) });

t.test("the article's host: 32 GiB GPUs with 4 GiB kept back admit 28 GiB of budgets, then refuse with one line", async (t) => {
  const p = policy({ reservePerGpu: '4g' });
  const ledger = [held('c1', 8), held('c2', 8), held('c3', 8)];
  t.doesNotThrow(() => admit([ask(4)], ledger, p, FILE), '24 + 4 = 28 fits');
  t.throws(() => admit([ask(5)], ledger, p, FILE), {
    message: `gpumem: GPU 0 (${U}) has 4GiB free for budgets and this container asks for 5GiB (annotation gpumem.io/limit); of its 32GiB, 24GiB is admitted to 3 containers, 4GiB kept back by reservePerGpu; ask for less, or start it when others stop`,
  });
});

t.test('other GPUs do not count; over-commit allowed admits anything', async (t) => {
  t.doesNotThrow(() => admit([ask(30)], [held('c1', 30, 'GPU-bbbbbbbb-0000-0000-0000-000000000000')], DEFAULT_POLICY, FILE));
  t.doesNotThrow(() => admit([ask(30)], [held('c1', 30)], policy({ overcommit: 'allow' }), FILE));
  t.throws(() => admit([ask(30)], [held('c1', 30)], DEFAULT_POLICY, FILE), { message: /has 2GiB free/ });
});

t.test('a reserve as a percent is of each GPU; a reserve of all of it admits nothing', async (t) => {
  t.equal(roomOn(ask(1, U, 80), [], policy({ reservePerGpu: '10%' }), FILE).free, BigInt(72 * GiB));
  t.throws(() => admit([ask(1)], [], policy({ reservePerGpu: '100%' }), FILE), { message: /has 0B free/ });
});

// Property: whatever the GPUs, budgets, reserve and order of arrival, the budgets admitted on a
// GPU never sum past its memory less the reserve, and a refused start leaves the ledger as it was.
t.test('random starts never admit more than a GPU has, less its reserve', async () => {
  const gpu = fc.record({ uuid: fc.uuid().map((u) => `GPU-${u}`), totalGiB: fc.integer({ min: 1, max: 160 }) });
  fc.assert(
    fc.property(
      fc.uniqueArray(gpu, { minLength: 1, maxLength: 4, selector: (g) => g.uuid }),
      fc.integer({ min: 0, max: 50 }),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 64 })), { minLength: 1, maxLength: 60 }),
      (gpus, reservePct, starts) => {
        const p = policy(reservePct ? { reservePerGpu: `${reservePct}%` } : {});
        const ledger: LedgerEntry[] = [];
        for (const [k, [pick, gib]] of starts.entries()) {
          const g = gpus[pick % gpus.length]!;
          const before = ledger.length;
          try {
            admit([ask(gib, g.uuid, g.totalGiB)], ledger, p, FILE);
            ledger.push(held(`c${k}`, gib, g.uuid));
          } catch {
            if (ledger.length !== before) return false;
          }
        }
        return gpus.every((g) => {
          const sum = ledger.filter((e) => e.uuid === g.uuid).reduce((s, e) => s + e.bytes, 0n);
          const reserve = (BigInt(g.totalGiB * GiB) * BigInt(reservePct)) / 100n;
          return sum <= BigInt(g.totalGiB * GiB) - reserve;
        });
      },
    ),
    { numRuns: 1500 },
  );
});

t.test('a start that fits is always admitted (no false refusals)', async () => {
  fc.assert(
    fc.property(fc.integer({ min: 2, max: 160 }), fc.array(fc.integer({ min: 1, max: 8 }), { maxLength: 20 }), (total, held0) => {
      const ledger = held0.map((gib, i) => held(`c${i}`, gib));
      const used = held0.reduce((s, x) => s + x, 0);
      const left = total - used;
      if (left < 1) return true;
      admit([ask(left, U, total)], ledger, DEFAULT_POLICY, FILE); // throws on a false refusal
      return true;
    }),
    { numRuns: 1000 },
  );
});
