// Images and volumes that would send gpumem's mounts elsewhere, decided by the create step
// without dockerd: a rootfs in a temp dir built from the same cases the end-to-end test imports.
import t from 'tap';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { removeTree } from './fixtures/remove-tree.js';
import { join } from 'node:path';
import { applyEntries, hostileCases } from '../e2e/lib/hostile-images.js';
import { createMany } from './fixtures/create.js';

function bundle(dir: string, id: string, mounts: unknown[] = []): string {
  const b = join(dir, id);
  mkdirSync(join(b, 'rootfs'), { recursive: true });
  writeFileSync(join(b, 'config.json'), JSON.stringify({
    ociVersion: '1.2.0',
    process: { args: ['true'], env: ['PATH=/bin'] },
    root: { path: 'rootfs' },
    mounts: [{ destination: '/proc', type: 'proc', source: 'proc' }, ...mounts],
    annotations: { 'gpumem.io/limit': '64m' },
  }));
  return b;
}

t.test('every hostile image is refused at create with one line naming the path; harmless oddities are limited', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gpumem-hostile-'));
  t.teardown(() => removeTree(dir));
  const cases = hostileCases();
  t.ok(cases.filter((c) => c.expect === 'refused').length >= 30, `${cases.length} cases, at least 30 hostile`);
  const bundles = cases.map((c) => {
    const b = bundle(dir, c.name);
    applyEntries(join(b, 'rootfs'), c.entries);
    return { id: c.name, bundle: b };
  });
  const state = join(dir, 'state');
  const outcomes = new Map(createMany(state, bundles).map((o) => [o.id, o]));
  for (const c of cases) {
    const o = outcomes.get(c.name);
    if (c.expect === 'refused') {
      t.equal(o?.ok, false, `${c.name}: refused`);
      t.match(o?.message ?? '', new RegExp(`^gpumem: the image has a \\w+ at ${c.names}, (on the way to \\S+ )?where gpumem mounts`), `${c.name}: the message names ${c.names}`);
      t.notMatch(o?.message ?? '', /\n/, `${c.name}: one line`);
      t.notOk(existsSync(join(state, c.name)), `${c.name}: no state directory`);
      const spec = JSON.parse(readFileSync(join(dir, c.name, 'config.json'), 'utf8')) as { mounts: unknown[] };
      t.equal(spec.mounts.length, 1, `${c.name}: the spec is untouched`);
    } else {
      t.equal(o?.ok, true, `${c.name}: starts (${o?.message ?? ''})`);
      t.ok(existsSync(join(state, c.name, 'config', 'gpumem.conf')), `${c.name}: its budget is written`);
    }
  }
});

t.test('volumes over gpumem\'s mount targets or its state are refused; engine mounts and a file at a target are not', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gpumem-volumes-'));
  t.teardown(() => removeTree(dir));
  const state = join(dir, 'state');
  mkdirSync(state);
  const host = join(dir, 'host-dir');
  mkdirSync(host);
  const bind = (source: string, destination: string) => ({ destination, type: 'bind', source, options: ['rbind', 'rw'] });
  const cases: { id: string; mounts: unknown[]; refused?: RegExp }[] = [
    { id: 'usr-local', mounts: [bind(host, '/usr/local')], refused: /volume .*:\/usr\/local covers \/usr\/local\/lib\/gpumem, where gpumem mounts its interposer/ },
    { id: 'etc', mounts: [bind(host, '/etc')], refused: /volume .*:\/etc covers \/etc\/ld\.so\.preload/ },
    { id: 'run-gpumem', mounts: [bind(host, '/run/gpumem')], refused: /covers \/run\/gpumem\/config/ },
    { id: 'state-root', mounts: [bind(state, '/srv/state')], refused: /reaches gpumem's state/ },
    { id: 'state-parent', mounts: [bind(dir, '/srv/all')], refused: /reaches gpumem's state/ },
    { id: 'state-child', mounts: [bind(join(state, 'other'), '/srv/other')], refused: /reaches gpumem's state/ },
    { id: 'tmpfs-run', mounts: [{ destination: '/run', type: 'tmpfs', source: 'tmpfs' }] },
    { id: 'file-at-preload', mounts: [bind(join(host, 'x'), '/etc/ld.so.preload')] },
    { id: 'elsewhere', mounts: [bind(host, '/data')] },
    { id: 'tmpfs-hides-bind', mounts: [bind(host, '/run/gpumem'), { destination: '/run', type: 'tmpfs', source: 'tmpfs' }] },
  ];
  const outcomes = new Map(createMany(state, cases.map((c) => ({ id: c.id, bundle: bundle(dir, c.id, c.mounts) }))).map((o) => [o.id, o]));
  for (const c of cases) {
    const o = outcomes.get(c.id);
    if (c.refused) {
      t.equal(o?.ok, false, `${c.id}: refused`);
      t.match(o?.message ?? '', c.refused, `${c.id}: says why`);
      t.notOk(existsSync(join(state, c.id)), `${c.id}: no state directory`);
    } else {
      t.equal(o?.ok, true, `${c.id}: starts (${o?.message ?? ''})`);
    }
  }
  t.same(readdirSync(host), [], 'nothing was created in the host directory');
});

