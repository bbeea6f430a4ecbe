// The host policy file: every documented field read as documented, the defaults when it is
// missing, and one line naming the file and the field for anything else.
import t from 'tap';
import fc from 'fast-check';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_POLICY, PolicyError, parsePolicy } from '../../lib/policy/policy.js';
import { loadPolicy } from '../../lib/policy/load.js';
import { FIELDS } from '../../lib/policy/schema.js';

const FILE = '/etc/gpumem/config.json';
const GiB = 1n << 30n;
const refusal = (text: string): string => {
  try {
    parsePolicy(text, FILE);
  } catch (e) {
    if (!(e instanceof PolicyError)) throw e;
    return e.message;
  }
  throw new Error(`accepted: ${text}`);
};

t.test('the example from the issue reads as written', async (t) => {
  const p = parsePolicy(JSON.stringify({
    defaultLimit: '8g', maxLimit: '16g', reservePerGpu: '4g', overcommit: 'deny', envLimit: 'allow', logLevel: 'info', logFile: '/var/log/gpumem.log',
  }), FILE);
  t.same(p.defaultLimit, { bytes: 8n * GiB });
  t.same(p.maxLimit, { bytes: 16n * GiB });
  t.same(p.reservePerGpu, { bytes: 4n * GiB });
  t.match(p, { overcommit: 'deny', envLimit: 'allow', logLevel: 'info', logFile: '/var/log/gpumem.log' });
});

t.test('sizes take the docker run -m grammar and percents; choices their words', async (t) => {
  const p = parsePolicy('{"defaultLimit": "8GiB", "maxLimit": "50%", "reservePerGpu": "512m", "overcommit": "allow", "envLimit": "lower", "logLevel": "debug"}', FILE);
  t.same(p.defaultLimit, { bytes: 8n * GiB });
  t.match(p.maxLimit, { percent: 50 });
  t.same(p.reservePerGpu, { bytes: 512n << 20n });
  t.match(p, { overcommit: 'allow', envLimit: 'lower', logLevel: 'debug', logFile: '/var/log/gpumem.log' });
});

t.test('an empty object and a missing file are the documented defaults, with no budget for containers that ask for none', async (t) => {
  t.same(parsePolicy('{}', FILE), DEFAULT_POLICY);
  t.same(DEFAULT_POLICY, { overcommit: 'deny', envLimit: 'allow', logLevel: 'info', logFile: '/var/log/gpumem.log' });
  t.same(loadPolicy('/nonexistent/gpumem/config.json'), DEFAULT_POLICY);
});

t.test('each bad field is refused in one line naming the file, the field, the value and what it accepts', async (t) => {
  const cases: [string, RegExp][] = [
    ['{"defaultLimit": "12parsecs"}', /^gpumem: policy \/etc\/gpumem\/config\.json: defaultLimit="12parsecs" is not a valid limit; use a size like 512m/],
    ['{"maxLimit": "0"}', /maxLimit="0" is not a valid limit/],
    ['{"reservePerGpu": "150%"}', /reservePerGpu="150%" is out of range/],
    ['{"defaultLimit": 8}', /defaultLimit is 8; use a size as docker run -m takes it .* as a JSON string$/],
    ['{"overcommit": "maybe"}', /overcommit is "maybe"; use "deny" or "allow"$/],
    ['{"envLimit": "raise"}', /envLimit is "raise"; use "allow", "lower" or "ignore"$/],
    ['{"logLevel": "loud"}', /logLevel is "loud"; use "trace", "debug", "info", "warn", "error", "fatal" or "silent"$/],
    ['{"logFile": "gpumem.log"}', /logFile is "gpumem.log"; use an absolute path/],
    ['{"overcommit": null}', /overcommit is null; use "deny" or "allow"$/],
    ['{"defaultLimit": "16g", "maxLimit": "8g"}', /defaultLimit "16g" is larger than maxLimit "8g"$/],
  ];
  for (const [text, message] of cases) {
    const m = refusal(text);
    t.match(m, message, text);
    t.notOk(m.includes('\n'), `${text}: one line`);
  }
});

t.test('a mistyped or unknown field is refused, never ignored, with the near miss named', async (t) => {
  t.match(refusal('{"defaultlimit": "8g"}'), /unknown field "defaultlimit" \(did you mean "defaultLimit"\?\); the fields are defaultLimit, maxLimit, reservePerGpu, overcommit, envLimit, logLevel, logFile$/);
  t.match(refusal('{" maxLimit": "8g"}'), /unknown field " maxLimit" \(did you mean "maxLimit"\?\)/);
  t.match(refusal('{"limit": "8g"}'), /unknown field "limit"; the fields are/);
});

t.test('text that is not one JSON object says so and how to get the defaults', async (t) => {
  t.match(refusal('{"defaultLimit": "8g",}'), /^gpumem: policy \/etc\/gpumem\/config\.json is not valid JSON \(.*\); fix it, or remove the file for the defaults$/);
  t.match(refusal(''), /is not valid JSON/);
  t.match(refusal('["8g"]'), /must hold one JSON object such as \{"defaultLimit": "8g"\}, not \["8g"\]$/);
  t.match(refusal('"8g"'), /must hold one JSON object .*, not "8g"$/);
});

t.test('a directory in the policy file\'s place is an error naming it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gpumem-policy-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  t.throws(() => loadPolicy(dir), new RegExp(`^gpumem: policy ${dir} cannot be read \\(EISDIR\\)`));
});

t.test('any object of known fields with valid values is accepted; any other key is refused (generated)', async () => {
  const value = (name: string): fc.Arbitrary<string> => {
    const f = FIELDS.find((x) => x.name === name)!;
    if (f.type.kind === 'choice') return fc.constantFrom(...f.type.choices);
    if (f.type.kind === 'path') return fc.constantFrom('/var/log/gpumem.log', '/tmp/x.log');
    return fc.constantFrom('1g', '512m', '25%', '8GiB');
  };
  const known = fc.record(Object.fromEntries(FIELDS.filter((f) => f.name !== 'maxLimit' && f.name !== 'defaultLimit').map((f) => [f.name, value(f.name)])), { requiredKeys: [] });
  fc.assert(fc.property(known, (o) => {
    parsePolicy(JSON.stringify(o), FILE);
  }), { numRuns: 300 });
  const names = new Set(FIELDS.map((f) => f.name));
  fc.assert(fc.property(fc.string({ maxLength: 20 }).filter((k) => !names.has(k) && k !== '__proto__'), (k) => {
    const m = refusal(JSON.stringify({ [k]: '8g' }));
    return m.includes('unknown field') && !m.includes('\n');
  }), { numRuns: 500 });
});

t.test('docs/policy.md lists every field with what it accepts and its default', async (t) => {
  const doc = readFileSync(new URL('../../docs/policy.md', import.meta.url), 'utf8');
  for (const f of FIELDS) {
    const row = doc.split('\n').find((l) => l.startsWith(`| \`${f.name}\``));
    t.ok(row, `${f.name} has a row`);
    t.ok(row?.includes(f.default === undefined ? 'none' : `\`"${f.default}"\``), `${f.name}: its default is given`);
    if (f.type.kind === 'choice') for (const c of f.type.choices) t.ok(row?.includes(`"${c}"`), `${f.name}: "${c}" is listed`);
  }
});
