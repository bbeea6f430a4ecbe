// The state of containers that no longer exist (a runtime killed during delete, a runc that never
// cleaned up) goes at the next limited start; the state of live or just-created ones stays.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { createMany, setup, HOST } from './fixtures/create.js';
import { mountsUnder } from './fixtures/remove-tree.js';

/** What the state root holds but gpumem's own files beside the containers (the ledger's lock, the GPU inventory). */
const entries = (state: string) => readdirSync(state).filter((n) => n !== 'ledger.lock' && n !== 'inventory.json').sort();

const createAll = (state: string, runs: { id: string; bundle: string; root?: string }[]) => createMany(state, runs, HOST);

// One bundle per container: the create step edits the spec it is given.
function bundleOf(c: { bundle: string }, id: string): string {
  const b = `${c.bundle}-${id}`;
  mkdirSync(join(b, 'rootfs'), { recursive: true });
  copyFileSync(join(c.bundle, 'config.json'), join(b, 'config.json'));
  return b;
}

const ps = (state: string) => {
  const r = spawnSync(process.execPath, ['dist/hook/gpumem.js', 'ps', '--format', 'json'], {
    env: { PATH: process.env.PATH ?? '', LD_LIBRARY_PATH: 'native/build/fake', GPUMEM_STATE_ROOT: state, GPUMEM_LOG_FILE: join(state, '..', 'gpumem.log') },
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`gpumem ps failed: ${r.stderr}`);
  return r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { container: string; gone?: string });
};

t.test('the state of a container the lower runtime no longer knows goes at the next start; live, young and unknown-root ones stay', async (t) => {
  const c = setup(t, { 'gpumem.io/limit': '1g' }, []);
  const runtimeRoot = join(c.state, '..', 'runc-root');
  mkdirSync(join(runtimeRoot, 'alive'), { recursive: true }); // runc's own directory for a live container
  const made = createAll(c.state, [
    { id: 'alive', bundle: bundleOf(c, 'alive'), root: runtimeRoot },
    { id: 'deleted', bundle: bundleOf(c, 'deleted'), root: runtimeRoot },
    { id: 'just-made', bundle: bundleOf(c, 'just-made'), root: runtimeRoot },
    { id: 'no-root', bundle: bundleOf(c, 'no-root') },
  ]);
  t.same(made.map((m) => m.ok), [true, true, true, true], 'four limited containers prepared');
  // Older than the grace a create has between its decision and runc's own state
  const old = new Date(Date.now() - 60_000);
  for (const id of ['alive', 'deleted', 'no-root']) utimesSync(join(c.state, id, 'host.json'), old, old);

  // What else a state root can hold: a mount point runc made for a container whose root is the
  // host's own (config), a name no container has: no rows, no crash, never swept.
  mkdirSync(join(c.state, 'config'));
  mkdirSync(join(c.state, 'not an id'));
  const before = ps(c.state);
  t.same(before.map((r) => r.container).sort(), ['alive', 'deleted', 'just-made', 'no-root'], 'gpumem ps lists the containers only');
  t.match(before.find((r) => r.container === 'deleted')?.gone ?? '', /no longer knows it/, 'gpumem ps marks the container that is gone');
  t.notOk(before.find((r) => r.container === 'alive')?.gone, 'and not the live one');
  t.ok(existsSync(join(c.state, 'deleted')), 'ps itself removes nothing');

  t.same(createAll(c.state, [{ id: 'next', bundle: bundleOf(c, 'next'), root: runtimeRoot }]).map((m) => m.ok), [true], 'the next limited start works');
  t.same(entries(c.state), ['alive', 'config', 'just-made', 'next', 'no-root', 'not an id'], 'and removed only the state of the container runc no longer knows');
  t.same(mountsUnder(join(c.state, 'deleted')), [], "its region's tmpfs is unmounted");
  t.same(mountsUnder(join(c.state, 'alive')).length, 1, "the live one's region stays mounted");
  const lines = readFileSync(join(c.state, '..', 'gpumem.log'), 'utf8').split('\n').filter((l) => l.includes('no longer exists'));
  t.equal(lines.length, 1, 'one log line says so');
  t.match(JSON.parse(lines[0]!), { container: 'deleted', outcome: 'removed' }, 'naming the container');
});

t.test('a state directory left without its host record (a crash half-way) goes once it is old', async (t) => {
  const c = setup(t, { 'gpumem.io/limit': '1g' }, []);
  createAll(c.state, [{ id: 'half', bundle: bundleOf(c, 'half'), root: c.state }]);
  const record = join(c.state, 'half', 'host.json');
  rmSync(record);
  const old = new Date(Date.now() - 60_000);
  utimesSync(join(c.state, 'half'), old, old);
  createAll(c.state, [{ id: 'next', bundle: bundleOf(c, 'next'), root: c.state }]); // root: the state root itself holds an entry named "next"
  t.same(entries(c.state), ['next'], 'the half-made state is gone');
});
