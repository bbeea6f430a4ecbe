// gpumem top in a real terminal (tmux, 80x24): the header and a row a container and GPU, redrawn
// wider when the window grows, and on q the alternate screen left, the cursor shown again and the
// command exited 0; not on a terminal, --no-stream prints one table and exits.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gpumem, makeContainers } from './fixtures/gpu-host.js';

const A = 'a'.repeat(64);
const haveTmux = spawnSync('tmux', ['-V']).status === 0;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('gpumem top runs live in an 80-column terminal, follows a resize, and quits on q giving the terminal back', { skip: haveTmux || process.env.CI === 'true' ? false : 'tmux is not installed' }, async (t) => {
  const m = makeContainers(t, [{ id: A, annotations: { 'gpumem.io/limit': '8g' }, visible: '0,1' }]);
  const server = `gpumem-top-${process.pid}`;
  const tmux = (...args: string[]) => spawnSync('tmux', ['-L', server, ...args], { encoding: 'utf8' });
  t.teardown(() => void tmux('kill-server'));
  // The shell stays after gpumem top ends, so that what it left on the screen can be read.
  const script = join(m.dir, 'top.sh');
  writeFileSync(script, [
    ...Object.entries(m.env).map(([k, v]) => `export ${k}='${v}'`),
    `cd '${process.cwd()}'`,
    `node dist/hook/gpumem.js top --interval 0.5`,
    'echo "top exited with $?"',
    'exec sleep 120',
  ].join('\n') + '\n');
  t.equal(tmux('new-session', '-d', '-s', 'top', '-x', '80', '-y', '24', `sh ${script}`).status, 0, 'tmux started');
  const screen = () => tmux('capture-pane', '-p', '-t', 'top').stdout;
  const flag = (f: string) => tmux('display-message', '-p', '-t', 'top', `#{${f}}`).stdout.trim();
  const until = async (what: RegExp, ms = 15000) => {
    for (const end = Date.now() + ms; Date.now() < end; await sleep(100)) if (what.test(screen())) return screen();
    return screen();
  };

  const first = await until(/^a{12}.*\n.*^a{12}/ms);
  t.match(first, /^gpumem top - \d\d:\d\d:\d\d - 1 container - every 0\.5s - q quits$/m, 'a title line');
  t.match(first, /^CONTAINER ID\s+NAME\s+GPU\s+UUID\s+BUDGET\s+USED/m, 'the header');
  t.match(first, /^a{12}\s+-\s+0\s+GPU-\S+\s+8GiB\s+0B/m, "GPU 0's row");
  t.match(first, /^a{12}\s+-\s+1\s+GPU-\S+\s+8GiB\s+0B/m, "GPU 1's row");
  t.notMatch(first, /STATUS/, 'STATUS left out at 80 columns');
  t.ok(first.split('\n').every((l) => l.length <= 80), 'nothing past 80 columns');
  t.equal(flag('alternate_on'), '1', 'in the alternate screen');

  t.equal(tmux('resize-window', '-t', 'top', '-x', '130', '-y', '30').status, 0);
  const wide = await until(/STATUS/);
  t.match(wide, /^CONTAINER ID\s+NAME\s+GPU\s+UUID\s+BUDGET\s+USED\s+DRIVER\s+PEAK\s+REFUSED\s+PIDS\s+STATUS$/m, 'redrawn with every column at 130');
  t.match(wide, /^a{12}\s+-\s+0\s+GPU-\S+\s+8GiB\s+0B\s+0B\s+0B\s+0\s+0\s+ok$/m);

  tmux('send-keys', '-t', 'top', 'q');
  const after = await until(/top exited with/);
  t.match(after, /^top exited with 0$/m, 'q quits with exit status 0');
  t.notMatch(after, /CONTAINER ID/, "the terminal's own screen is back, the table gone with the alternate screen");
  t.equal(flag('alternate_on'), '0', 'out of the alternate screen');
  t.equal(flag('cursor_flag'), '1', 'the cursor shown again');
});

t.test('gpumem top off a terminal: --no-stream prints one table and exits; a bad --interval is one line and exit 1', async (t) => {
  const m = makeContainers(t, [{ id: A, annotations: { 'gpumem.io/limit': '8g' }, visible: '0' }]);
  const [once, bad] = await Promise.all([gpumem(m.env, ['top', '--no-stream']), gpumem(m.env, ['top', '--interval', '0'])]);
  t.equal(once.status, 0, once.stderr);
  const lines = once.stdout.trimEnd().split('\n');
  t.match(lines, [/^CONTAINER ID\s+NAME\s+GPU/, /^a{12}\s+-\s+0\s+GPU-\S+\s+8GiB/]);
  t.equal(lines.length, 2, 'one table');
  t.equal(bad.status, 1);
  t.equal(bad.stderr, 'gpumem: --interval "0" is not a number of seconds from 0.1 to 3600, e.g. 1 or 0.5\n');
});
