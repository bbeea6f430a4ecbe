// The host finds a container's processes by the cgroup runc puts it in: from the spec's
// linux.cgroupsPath (either driver's form) to what /proc/<pid>/cgroup shows on the host.
import t from 'tap';
import { containerCgroup, inCgroup } from '../../lib/truth/cgroup.js';

const id = 'f'.repeat(64);

t.test("docker's cgroupfs path is where its processes are, in every hierarchy", async (t) => {
  t.equal(containerCgroup(`/docker/${id}`), `/docker/${id}`);
  t.equal(containerCgroup(`/docker//${id}/`), `/docker/${id}`, 'written sloppily, read as runc cleans it');
});

t.test("the systemd driver's slice:prefix:name is the scope systemd makes of it", async (t) => {
  t.equal(containerCgroup(`system.slice:docker:${id}`), `/system.slice/docker-${id}.scope`);
  t.equal(containerCgroup(`user-1000.slice:docker:${id}`), `/user.slice/user-1000.slice/docker-${id}.scope`, 'a dash is a sub-slice');
  t.equal(containerCgroup(`:docker:${id}`), `/system.slice/docker-${id}.scope`, 'no slice is system.slice');
  t.equal(containerCgroup(`-.slice:docker:${id}`), `/docker-${id}.scope`, '-.slice is the root');
  t.equal(containerCgroup('system.slice:docker:my.slice'), '/system.slice/my.slice', 'a name that is a slice is the unit itself');
});

t.test('a cgroupsPath the host cannot place gives no cgroup rather than a wrong one', async (t) => {
  for (const p of [undefined, '', '/', 'docker/relative', 'system.slice:docker', 'nodot:docker:x', 'a--b.slice:docker:x', 'system.slice:docker:']) {
    t.equal(containerCgroup(p), null, JSON.stringify(p));
  }
});

t.test("a process is the container's when any cgroup line puts it at the container's path or below", async (t) => {
  const c = `/docker/${id}`;
  const v1 = `9:name=systemd:/\n8:pids:${c}\n4:memory:${c}\n0::/\n`;
  const v2 = `0::${c}\n`;
  t.ok(inCgroup(v1, c), 'cgroup v1 (hybrid host, unified part elsewhere)');
  t.ok(inCgroup(v2, c), 'cgroup v2');
  t.ok(inCgroup(`0::${c}/init.scope\n`, c), 'a sub-cgroup the container made');
  t.notOk(inCgroup(`0::${c}0\n4:memory:/docker/other\n`, c), 'another container, even one whose id starts the same');
  t.notOk(inCgroup('', c), 'an exited process');
  t.notOk(inCgroup(`garbage ${c}\n`, c));
});
