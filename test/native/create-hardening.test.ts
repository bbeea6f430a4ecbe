// What the create step does so that a limited container cannot take the limit off or harm the
// host: the region on its own bounded tmpfs, LD_PRELOAD and no CAP_SYS_CHROOT for its processes.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { containerPaths } from '../../lib/layout.js';
import { create, setup, type Case } from './fixtures/create.js';
import { mountsUnder } from './fixtures/remove-tree.js';

const INSIDE = containerPaths();

t.test('a container cannot grow its accounting region on the host: past one spare copy the writes fail, and removing the state unmounts it', async (t) => {
  const c = setup(t, { 'gpumem.io/limit': '64m' }, []);
  t.ok(create(c, 'ctr-grow').ok);
  const shared = join(c.state, 'ctr-grow', 'shared');
  t.same(mountsUnder(shared), [shared], 'the region lives on its own mount');
  const region = join(shared, 'accounting');
  const size = statSync(region).size;
  let wrote = 0;
  let error = '';
  try {
    for (let i = 0; i < 64; i++) {
      appendFileSync(region, Buffer.alloc(1 << 20));
      wrote += 1 << 20;
    }
  } catch (e) {
    error = (e as NodeJS.ErrnoException).code ?? String(e);
  }
  t.equal(error, 'ENOSPC', `growing the region stops with ENOSPC (after ${wrote} bytes)`);
  t.ok(wrote <= 2 * size, `no more than one spare region's worth (${wrote} of ${size} bytes) was taken`);
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', `import { removeStateDir, stateDir } from './dist/lib/state.js'; removeStateDir(stateDir('ctr-grow'));`], {
    env: { PATH: process.env.PATH ?? '', GPUMEM_STATE_ROOT: c.state },
    encoding: 'utf8',
  });
  t.equal(r.status, 0, r.stderr);
  t.same(mountsUnder(c.state), [], 'no mount is left under the state root');
  t.notOk(existsSync(join(c.state, 'ctr-grow')), 'and no directory');
});

t.test("a limited container keeps the image's LD_PRELOAD after the interposer and runs without CAP_SYS_CHROOT; an unlimited one keeps both", async (t) => {
  const caps = ['CAP_CHOWN', 'CAP_SYS_CHROOT', 'CAP_KILL'];
  const edit = (c: Case) => {
    const spec = c.spec();
    (spec.process as Record<string, unknown>).capabilities = { bounding: caps, effective: caps, permitted: caps };
    writeFileSync(join(c.bundle, 'config.json'), JSON.stringify(spec));
  };
  const limited = setup(t, { 'gpumem.io/limit': '64m' }, ['LD_PRELOAD=/opt/libmine.so']);
  edit(limited);
  t.ok(create(limited, 'ctr-caps').ok);
  const p = limited.spec().process as { env: string[]; capabilities: Record<string, string[]> };
  t.same(p.env.filter((e) => e.startsWith('LD_PRELOAD=')), [`LD_PRELOAD=${INSIDE.interposer}:/opt/libmine.so`]);
  for (const set of ['bounding', 'effective', 'permitted']) t.same(p.capabilities[set], ['CAP_CHOWN', 'CAP_KILL'], `${set}: no CAP_SYS_CHROOT`);
  const free = setup(t, {}, ['LD_PRELOAD=/opt/libmine.so']);
  edit(free);
  t.ok(create(free, 'ctr-free').ok);
  const q = free.spec().process as { env: string[]; capabilities: Record<string, string[]> };
  t.same(q.env.filter((e) => e.startsWith('LD_PRELOAD=')), ['LD_PRELOAD=/opt/libmine.so']);
  t.same(q.capabilities.bounding, caps);
});
