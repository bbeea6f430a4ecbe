// Which containers gpumem update changes: names as docker update takes them (asked of the Docker
// API socket), ids and unique id prefixes as before; and all of them or none.
import t from 'tap';
import { readFileSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { accountingGeneration, readBudgets } from '../../lib/ffi/native.js';
import { applyAll, realSteps, type Change } from '../../lib/cli/update-apply.js';
import { stateDir } from '../../lib/state.js';
import { dockerEngine, host } from './fixtures/limited.js';

const GiB = 2n ** 30n;
const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const UNLIMITED = 'c'.repeat(64);

t.test('a container is found by its name, as docker update finds it, through the Docker API socket', async (t) => {
  const h = host(t);
  const a = h.add(A, GiB);
  const DOCKER_HOST = await dockerEngine(t, h.dir, { trainer: A, '/trainer': A });
  t.same(await h.update(['trainer', '--limit', '2g'], { DOCKER_HOST }), { stdout: A + '\n' }, 'the full id is printed');
  t.equal(readBudgets(a.config).all, 2n * GiB);
  t.same(await h.update(['/trainer', '--limit', '3g'], { DOCKER_HOST }), { stdout: A + '\n' }, "docker's /name form too");
  t.same(await h.update([A.slice(0, 12), '--limit', '4g'], { DOCKER_HOST }), { stdout: A + '\n' }, 'an id prefix Docker does not know is still found');
  t.equal(readBudgets(a.config).all, 4n * GiB);
});

t.test('a name Docker does not know, or a container gpumem does not limit, gets one clear line and changes nothing', async (t) => {
  const h = host(t);
  const a = h.add(A, GiB);
  const DOCKER_HOST = await dockerEngine(t, h.dir, { web: UNLIMITED, trainer: A });
  t.same(await h.update(['nosuch', '--limit', '2g'], { DOCKER_HOST }), {
    refused: 'gpumem: no container limited by gpumem matches "nosuch" (Docker: "No such container: nosuch"); see gpumem ps',
  });
  t.match(await h.update(['web', '--limit', '2g'], { DOCKER_HOST }), {
    refused: /^gpumem: container "web" \(cccccccccccc\) has no budget from gpumem \(it was started without a gpumem\.io\/limit or GPUMEM_LIMIT, or not with the gpumem runtime\); see gpumem ps$/,
  });
  t.match(await h.update(['trainer', 'web', '--limit', '2g'], { DOCKER_HOST }), { refused: /"web"/ });
  t.equal(readBudgets(a.config).all, GiB, 'trainer, named first, is not changed either');
});

t.test('with no Docker to ask, ids and unique prefixes still work, and a name says why it cannot be looked up', async (t) => {
  const h = host(t);
  h.add(A, GiB);
  h.add('ab' + 'c'.repeat(62), GiB);
  t.same(await h.update([A, '--limit', '2g']), { stdout: A + '\n' });
  t.same(await h.update(['aa', '--limit', '2g']), { stdout: A + '\n' });
  t.same(await h.update(['a', '--limit', '2g']), { refused: 'gpumem: "a" matches 2 containers; give more of the id' });
  t.match(await h.update(['trainer', '--limit', '2g']), {
    refused: /^gpumem: no container limited by gpumem matches "trainer" \(names unknown: the Docker API at \/.*no-docker\.sock is not reachable \(ENOENT\)\); see gpumem ps$/,
  });
  t.match(await h.update(['trainer', '--limit', '2g'], { DOCKER_HOST: 'tcp://10.0.0.1:2375' }), {
    refused: /names unknown: DOCKER_HOST=tcp:\/\/10\.0\.0\.1:2375 is not a unix socket/,
  });
});

t.test('all or nothing: when one container cannot be updated, none is, and gpumem update exits 1', async (t) => {
  const h = host(t);
  const a = h.add(A, GiB);
  const b = h.add(B, GiB);
  rmSync(b.accounting);
  symlinkSync('/etc/hostname', b.accounting); // what a container could do to its region
  const before = { config: readFileSync(a.config, 'utf8'), generation: accountingGeneration(a.accounting) };
  const r = await h.gpumem(['update', A, B, '--limit', '2g']);
  t.equal(r.status, 1);
  t.match(r.stderr, /^gpumem: bbbbbbbbbbbb: cannot open .*accounting: .*; nothing was changed\n$/);
  t.equal(r.stdout, '', 'no id is printed as if updated');
  t.equal(readFileSync(a.config, 'utf8'), before.config, "the other container's config is as it was");
  t.equal(accountingGeneration(a.accounting), before.generation, 'and its processes were not told of any change');
  t.equal(readBudgets(b.config).all, GiB, "the refused container's config was not rewritten either");
  const refused = readFileSync(join(h.dir, 'gpumem.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  t.same(refused.map((l) => [l.outcome, l.msg]), [['refused', r.stderr.trim()]], 'the refusal is in the decision log');
});

t.test('a failure part-way puts back the budgets already changed, and tells their processes', async (t) => {
  const h = host(t);
  const a = h.add(A, GiB);
  const b = h.add(B, GiB);
  process.env.GPUMEM_STATE_ROOT = h.root;
  t.teardown(() => delete process.env.GPUMEM_STATE_ROOT);
  const change = (id: string): Change => ({ id, dir: stateDir(id), before: { all: GiB, perGpu: new Map() }, after: { all: 2n * GiB, perGpu: new Map() } });
  const generation = accountingGeneration(a.accounting);
  // The real steps, with B's region failing after its config was written (a container rewrote it meanwhile).
  const steps = {
    ...realSteps,
    bump: (dir: Change['dir']) => {
      if (dir.root.endsWith(B)) throw new Error(`gpumem: ${dir.accountingFile}: bad magic`);
      realSteps.bump(dir);
    },
  };
  t.throws(() => applyAll([change(A), change(B)], steps), { message: /^gpumem: bbbbbbbbbbbb: .*bad magic; nothing was changed$/ });
  t.equal(readBudgets(a.config).all, GiB, 'A is back at 1 GiB');
  t.equal(accountingGeneration(a.accounting), generation + 2n, "A's processes were told twice: of 2 GiB, then of 1 GiB again");
  t.equal(readBudgets(b.config).all, GiB, "B's config, written before its region failed, is put back");
});
