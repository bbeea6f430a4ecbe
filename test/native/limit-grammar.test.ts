// One limit grammar: the host (TypeScript, through the C library) and the interposer standalone
// give every GPUMEM_LIMIT* environment the same verdict and the same one-line message.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LimitError, limitRequest } from '../../lib/budget/request.js';
import { resolveBudget } from '../../lib/budget/resolve.js';
import { parseLimit, percentBytes } from '../../lib/ffi/native.js';
import { MiB, envFor, runProgram, startHolding } from './fixtures/native.js';

const GiB = 1024 * MiB;
const fakeGpu = 16 * GiB; // the fake driver's device (FAKE_CUDA_DEVICE_MEM unset)

type Verdict = { budget: number } | { refused: string };

/** What the host makes of an environment for the container's GPU 0 (the fake GPU's size). */
function hostVerdict(env: Record<string, string>): Verdict {
  try {
    const req = limitRequest({}, env);
    if (!req) return { budget: 0 };
    const cfg = resolveBudget(req, new Map([[0, fakeGpu]]));
    return { budget: cfg.perGpu.get(0) ?? cfg.all ?? 0 };
  } catch (e) {
    if (e instanceof LimitError) return { refused: e.message };
    throw e;
  }
}

/** What the interposer makes of it, standalone: the budget it reports, or its line on stderr. */
function interposerVerdict(env: Record<string, string>) {
  const r = runProgram('alloc-until-oom', ['--block', '4m'], envFor({ extra: env }));
  const total = r.json?.device_total ?? -1;
  const verdict: Verdict = r.stderr !== '' ? { refused: r.stderr.replace(/\n$/, '') } : { budget: total === fakeGpu ? 0 : total };
  return { verdict, r };
}

const HELP =
  'use a size like 512m, 8g or 8GiB (a number with an optional unit b, k, m, g, t or p; binary multiples) or a percent of the GPU like 50%';
const KEYS = 'accepted: GPUMEM_LIMIT or GPUMEM_LIMIT_<GPU index 0-63>';

const cases: { env: Record<string, string>; expect: Verdict }[] = [
  // the four places where the two sides used to disagree
  { env: { GPUMEM_LIMIT: '' }, expect: { refused: `gpumem: environment variable GPUMEM_LIMIT="" is empty; ${HELP}` } },
  { env: { GPUMEM_LIMIT_X: '1g' }, expect: { refused: `gpumem: unknown environment variable GPUMEM_LIMIT_X; ${KEYS}` } },
  { env: { GPUMEM_LIMIT: '50%' }, expect: { budget: 8 * GiB } },
  { env: { GPUMEM_LIMIT: ' 8g ' }, expect: { refused: `gpumem: environment variable GPUMEM_LIMIT=" 8g " has spaces around the value; ${HELP}` } },
  // and the rest of the grammar
  { env: { GPUMEM_LIMIT: '25%' }, expect: { budget: 4 * GiB } },
  { env: { GPUMEM_LIMIT: '12.5%' }, expect: { budget: 2 * GiB } },
  { env: { GPUMEM_LIMIT: '64m' }, expect: { budget: 64 * MiB } },
  { env: { GPUMEM_LIMIT: '64 MiB' }, expect: { budget: 64 * MiB } },
  { env: { GPUMEM_LIMIT: '64m', GPUMEM_LIMIT_0: '50%' }, expect: { budget: 8 * GiB } },
  { env: { GPUMEM_LIMIT: '50%', GPUMEM_LIMIT_0: '64m' }, expect: { budget: 64 * MiB } },
  { env: { GPUMEM_LIMIT_1: '64m' }, expect: { budget: 0 } },
  { env: { GPUMEM_LIMIT: '12parsecs' }, expect: { refused: `gpumem: environment variable GPUMEM_LIMIT="12parsecs" is not a valid limit; ${HELP}` } },
  { env: { GPUMEM_LIMIT: '150%' }, expect: { refused: 'gpumem: environment variable GPUMEM_LIMIT="150%" is out of range; a percent must be above 0 and at most 100' } },
  { env: { GPUMEM_LIMIT: '0%' }, expect: { refused: 'gpumem: environment variable GPUMEM_LIMIT="0%" is out of range; a percent must be above 0 and at most 100' } },
  { env: { GPUMEM_LIMIT: '50 %' }, expect: { refused: `gpumem: environment variable GPUMEM_LIMIT="50 %" is not a valid limit; ${HELP}` } },
  { env: { GPUMEM_LIMIT: '0' }, expect: { refused: `gpumem: environment variable GPUMEM_LIMIT="0" is not a valid limit; ${HELP}` } },
  { env: { GPUMEM_LIMITS: '1g' }, expect: { refused: `gpumem: unknown environment variable GPUMEM_LIMITS; ${KEYS}` } },
  { env: { GPUMEM_LIMIT_64: '1g' }, expect: { refused: `gpumem: unknown environment variable GPUMEM_LIMIT_64; ${KEYS}` } },
  { env: { GPUMEM_LIMIT_00: '1g' }, expect: { refused: `gpumem: unknown environment variable GPUMEM_LIMIT_00; ${KEYS}` } },
  {
    env: { GPUMEM_LIMIT: '0.00000000001%' },
    expect: { refused: `gpumem: environment variable GPUMEM_LIMIT="0.00000000001%" resolves to 0 bytes on GPU 0 (of ${fakeGpu} bytes); use a larger percent or a size like 512m` },
  },
  {
    env: { GPUMEM_LIMIT: '1g', GPUMEM_LIMIT_0: '0.00000000001%' },
    expect: { refused: `gpumem: environment variable GPUMEM_LIMIT_0="0.00000000001%" resolves to 0 bytes on GPU 0 (of ${fakeGpu} bytes); use a larger percent or a size like 512m` },
  },
];

for (const c of cases) {
  const name = Object.entries(c.env).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(' ');
  t.test(`${name}: host and interposer agree`, async (t) => {
    t.same(hostVerdict(c.env), c.expect, 'host (TypeScript through the C grammar)');
    const { verdict, r } = interposerVerdict(c.env);
    t.same(verdict, c.expect, 'interposer, standalone');
    t.equal(r.status, 0, `the program ran: ${r.stdout}`);
    if ('refused' in c.expect) {
      t.equal(r.json?.allocated, 0, 'nothing is allocated');
      t.equal(r.json?.error, 'CUDA_ERROR_OUT_OF_MEMORY', 'every allocation is refused');
      t.equal(r.stderr.split('\n').length, 2, 'in one line');
    } else {
      const budget = c.expect.budget || fakeGpu;
      t.equal(r.json?.allocated, Math.floor(budget / (4 * MiB)) * 4 * MiB, 'the fill stops at that budget');
    }
  });
}

t.test('standalone, every process of a tree resolves GPUMEM_LIMIT=25% to the same 4 GiB and they share it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gpumem-limit-grammar-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const env = envFor({ extra: { GPUMEM_LIMIT: '25%', GPUMEM_STATE_DIR: dir } });
  const a = startHolding('alloc-until-oom', ['--block', '64m', '--max', '1g', '--hold', '20'], env);
  try {
    t.equal((await a.result).allocated, GiB, 'the first process holds 1 GiB');
    const b = runProgram('alloc-until-oom', ['--block', '64m'], env);
    t.equal(b.json?.device_total, 4 * GiB, 'the second is told the same 25% of the 16 GiB device');
    t.equal(b.json?.allocated, 3 * GiB, 'and gets what the first left of it');
    t.equal(b.stderr, '');
  } finally {
    a.child.kill('SIGTERM');
    await a.exited;
  }
});

// The C functions themselves, through lib/ffi/native.ts, with products past 2^64 where a double
// would round.
const message = (e: unknown) => (e as Error).message;

function parse(value: string) {
  try {
    const l = parseLimit('v', value);
    return 'bytes' in l ? { bytes: BigInt(l.bytes), num: 0n, den: 0n } : { bytes: 0n, num: l.num, den: l.den };
  } catch (e) {
    return { error: message(e) };
  }
}

function percentOf(value: string, total: bigint) {
  try {
    const l = parseLimit('v', value);
    if ('bytes' in l) return { error: 'not a percent' };
    return { bytes: BigInt(percentBytes('v', l, 3, Number(total))) };
  } catch (e) {
    return { error: message(e) };
  }
}

t.test('gpumem_parse_limit: a size or an exact percent, as three words', async (t) => {
  t.same(parse('8g'), { bytes: 8n * 1024n ** 3n, num: 0n, den: 0n });
  t.same(parse('33.333%'), { bytes: 0n, num: 33333n, den: 1000n });
  t.same(parse('99.99999999999999999%'), { bytes: 0n, num: 9999999999999999999n, den: 10n ** 17n }, '17 decimals');
  t.match(parse('1.000000000000000001%'), { error: /at most 17 decimals/ });
  t.same(parse('1.000000000000000000000%'), { bytes: 0n, num: 1n, den: 1n }, 'trailing zeros are no decimals');
});

t.test('gpumem_percent_bytes: floor(total * percent / 100) exactly, where a double would round', async (t) => {
  const total = 2n ** 53n - 1n; // the largest size a number holds exactly
  t.same(percentOf('100%', total), { bytes: total });
  t.same(percentOf('50%', total), { bytes: total / 2n });
  t.same(percentOf('33.333%', total), { bytes: (total * 33333n) / 100000n });
  t.same(percentOf('99.99999999999999999%', total), { bytes: total - 1n }, 'a double would say 100%');
  t.same(percentOf('0.00000000001%', 10n ** 13n), { bytes: 1n });
  t.same(percentOf('0.00000000001%', 10n ** 13n - 1n), { error: `v="0.00000000001%" resolves to 0 bytes on GPU 3 (of ${10n ** 13n - 1n} bytes); use a larger percent or a size like 512m` });
});

t.test('gpumem_percent_bytes refuses what is not a percent the grammar could give', async (t) => {
  for (const [num, den] of [[0n, 0n], [1n, 3n], [101n, 1n], [0n, 1n], [1n, 10n ** 18n]] as const) {
    t.throws(() => percentBytes('v', { num, den }, 0, 1000), { message: /is not a percent/ }, `${num}/${den}`);
  }
});

t.test('a value with a newline, or 10,000 characters long, gets the same one short line from the host and the interposer', async (t) => {
  for (const [env, refused] of [
    [{ GPUMEM_LIMIT: '8g\nlimit 1' }, `gpumem: environment variable GPUMEM_LIMIT="8g\\nlimit 1" is not a valid limit; ${HELP}`],
    [{ GPUMEM_LIMIT: '7'.repeat(10_000) + 'x' }, `gpumem: environment variable GPUMEM_LIMIT="${'7'.repeat(64)}…" (10001 characters) is not a valid limit; ${HELP}`],
    [{ [`GPUMEM_LIMIT_${'X'.repeat(10_000)}`]: '1g' }, `gpumem: unknown environment variable "GPUMEM_LIMIT_${'X'.repeat(51)}…" (10013 characters); ${KEYS}`],
  ] as const) {
    t.same(hostVerdict(env), { refused }, 'host');
    t.same(interposerVerdict(env).verdict, { refused }, 'interposer');
  }
});
