// The host library (libgpumem-host.so) through lib/ffi/native.ts: the size grammar and the two file formats.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { accountingUsage, createAccounting, parseSize, readConfig, scribbleRegion, writeConfig } from './fixtures/native.js';

const GiB = 1024n ** 3n;

t.test('8g, 8GiB, 8gb and "8 GiB" all mean 8 GiB', async (t) => {
  for (const s of ['8g', '8GiB', '8gb', '8 GiB', '8G', '8Gi', '8589934592']) {
    t.same(parseSize(s), { bytes: 8589934592n }, s);
  }
});

t.test('fractions, other units and plain bytes are sizes', async (t) => {
  t.same(parseSize('1.5g'), { bytes: 3n * GiB / 2n });
  t.same(parseSize('512m'), { bytes: 512n * 1024n * 1024n });
  t.same(parseSize('100'), { bytes: 100n });
  t.same(parseSize('100b'), { bytes: 100n });
  t.same(parseSize('2k'), { bytes: 2048n });
  t.same(parseSize('1t'), { bytes: 1024n * GiB });
  t.same(parseSize('1p'), { bytes: 1024n * 1024n * GiB });
});

t.test('garbage, zero, negative, empty and overflowing sizes are refused with a message', async (t) => {
  for (const s of ['12parsecs', '0', '-1', '', '1x', 'g', '1.5.5g', '8  g', '99999999999p', '1e9']) {
    const r = parseSize(s);
    t.equal(r.bytes, undefined, `${JSON.stringify(s)} refused`);
    t.match(r.error, /is not a size .*use a number with an optional unit b, k, m, g, t or p/);
  }
});

t.test('a config written by the host reads back the same', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gpumem-host-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'gpumem.conf');
  writeConfig(path, 8n * GiB, [0n, 4n * GiB]);
  t.equal(readFileSync(path, 'utf8'), 'gpumem-config 1\nlimit 8589934592\nlimit.1 4294967296\n');
  t.equal(statSync(path).mode & 0o777, 0o644);
  const back = readConfig(path, 2);
  t.same(back, { limitAll: 8n * GiB, perGpu: [0n, 4n * GiB] });
});

t.test('a config file that is not exactly the format is refused with a message', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gpumem-host-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'gpumem.conf');
  for (const bad of ['', 'gpumem-config 2\n', 'gpumem-config 1\nlimit 0\n', 'gpumem-config 1\nlimit 5',
    'gpumem-config 1\nlimit 5\nlimit 6\n', 'gpumem-config 1\nlimit.64 5\n', 'gpumem-config 1\nlimit -5\n',
    'gpumem-config 1\nlimit 8g\n', 'gpumem-config 1\nlimit  5\n']) {
    writeFileSync(path, bad);
    t.match(readConfig(path), { error: /gpumem\.conf/ }, JSON.stringify(bad));
  }
  t.match(readConfig(join(dir, 'missing')), { error: /does not exist/ });
});

t.test('a fresh accounting region shows nothing used and no process', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gpumem-host-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'accounting');
  createAccounting(path);
  t.equal(statSync(path).mode & 0o777, 0o666, 'writable by any uid in the container');
  t.same(accountingUsage(path, 4), { used: [0, 0, 0, 0], live: 0 });
});

t.test('a scribbled or truncated accounting region gives a clear error, not a crash', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gpumem-host-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'accounting');
  createAccounting(path);
  const size = statSync(path).size;
  const good = readFileSync(path);

  writeFileSync(path, randomBytes(size));
  t.match(accountingUsage(path), { error: /bad magic/ }, 'random bytes');

  writeFileSync(path, good);
  truncateSync(path, 100);
  t.match(accountingUsage(path), { error: /wrong size/ }, 'truncated');

  writeFileSync(path, Buffer.alloc(0));
  t.match(accountingUsage(path), { error: /wrong size/ }, 'empty');

  writeFileSync(path, Buffer.concat([good, Buffer.alloc(10)]));
  t.match(accountingUsage(path), { error: /wrong size/ }, 'too long');

  writeFileSync(path, good);
  scribbleRegion(path, 'max_slots', 1_000_000);
  t.match(accountingUsage(path), { error: /counts/ }, 'impossible slot count');

  t.match(accountingUsage(join(dir, 'missing')), { error: /cannot open/ });
  t.match(accountingUsage(dir), { error: /not a regular file/ }, 'a directory');
});
