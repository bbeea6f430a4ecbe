import t from 'tap';
import { parseRuntimeArgs } from '../../lib/runtime/runc-args.js';

t.test('finds create, the bundle, the log and the id the way containerd calls runc', async (t) => {
  const a = parseRuntimeArgs(
    ['--root', '/run/containerd/runc/moby', '--log', '/run/x/log.json', '--log-format', 'json', '--systemd-cgroup',
      'create', '--bundle', '/b/x', '--pid-file', '/b/x/init.pid', '--console-socket', '/tmp/s', 'abc123'],
    '/cwd',
  );
  t.same(a, { bundle: '/b/x', log: '/run/x/log.json', root: '/run/containerd/runc/moby', subcommand: 'create', containerId: 'abc123' });
});

t.test('--flag=value forms and the default bundle (the current directory) work', async (t) => {
  const a = parseRuntimeArgs(['--log=/l.json', 'create', '--pid-file=/p', 'id1'], '/cwd');
  t.same(a, { bundle: '/cwd', log: '/l.json', subcommand: 'create', containerId: 'id1' });
  t.equal(parseRuntimeArgs(['create', '-b', '/bb', 'i'], '/').bundle, '/bb');
});
