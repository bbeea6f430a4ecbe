import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAccounting, readConfig, writeConfig } from '../../lib/ffi/native.js';

// A container owns its shared/ directory: whatever it puts at the region's name, host tools must
// neither hang, nor read, nor write through it.

function gpumem(root: string, ...args: string[]) {
  return spawnSync(process.execPath, ['dist/hook/gpumem.js', ...args], {
    env: { ...process.env, GPUMEM_STATE_ROOT: root, GPUMEM_LOG_FILE: join(root, 'gpumem.log') },
    encoding: 'utf8',
    timeout: 10_000,
  });
}

function containerWith(replace: (accounting: string) => void): { root: string; id: string } {
  const root = mkdtempSync(join(tmpdir(), 'gpumem-hostile-'));
  const id = 'e'.repeat(64);
  mkdirSync(join(root, id, 'config'), { recursive: true });
  mkdirSync(join(root, id, 'shared'));
  writeConfig(join(root, id, 'config', 'gpumem.conf'), { all: 2n ** 30n, perGpu: new Map() });
  const accounting = join(root, id, 'shared', 'accounting');
  createAccounting(accounting);
  rmSync(accounting);
  replace(accounting);
  return { root, id };
}

t.test('a region replaced by a symlink to a host file is neither read nor written through', async (t) => {
  const victim = join(mkdtempSync(join(tmpdir(), 'gpumem-victim-')), 'host-file');
  const content = 'x'.repeat(200_000);
  writeFileSync(victim, content);
  const { root, id } = containerWith((a) => symlinkSync(victim, a));
  const ps = gpumem(root, 'ps', '--format', 'json');
  t.equal(ps.status, 0, 'gpumem ps still lists');
  t.match(JSON.parse(ps.stdout.trim()).error, /cannot open .*accounting/);
  const up = gpumem(root, 'update', id, '--limit', '2g');
  t.equal(up.status, 1, 'gpumem update refuses');
  t.match(up.stderr, /cannot open .*accounting/);
  t.equal(readFileSync(victim, 'utf8'), content, 'the host file is untouched');
  t.equal(readConfig(join(root, id, 'config', 'gpumem.conf')).all, 2 ** 30, 'and, refused, the config is not rewritten: all or nothing');
});

t.test('a region replaced by a FIFO does not hang gpumem ps or gpumem update', async (t) => {
  const { root, id } = containerWith((a) => spawnSync('mkfifo', [a]));
  const ps = gpumem(root, 'ps', '--format', 'json');
  t.equal(ps.signal, null, 'gpumem ps returns');
  t.match(JSON.parse(ps.stdout.trim()).error, /not a regular file/);
  const up = gpumem(root, 'update', id, '--limit', '2g');
  t.equal(up.signal, null, 'gpumem update returns');
  t.match(up.stderr, /not a regular file/);
});

t.test('a region replaced by a device node is refused, never written', { skip: process.getuid?.() !== 0 && 'mknod needs root' }, async (t) => {
  // A char device the test can read safely (/dev/zero's numbers); a real attack would name a disk.
  const { root, id } = containerWith((a) => spawnSync('mknod', [a, 'c', '1', '5']));
  const up = gpumem(root, 'update', id, '--limit', '2g');
  t.equal(up.status, 1);
  t.match(up.stderr, /not a regular file/);
});
