import t from 'tap';
import { mkdtempSync, readFileSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDaemonJson, register, unregister } from '../../lib/daemon/daemon-json.js';
import { registerRuntime, unregisterRuntime } from '../../lib/daemon/install-record.js';

const RT = '/usr/local/bin/gpumem-runtime';

t.test('registering keeps every existing key and runtime', async (t) => {
  const before = { 'log-level': 'warn', runtimes: { nvidia: { path: 'nvidia-container-runtime', runtimeArgs: [] } } };
  const { config } = register(before, RT, false, 'daemon.json');
  t.same(config, {
    'log-level': 'warn',
    runtimes: { nvidia: { path: 'nvidia-container-runtime', runtimeArgs: [] }, gpumem: { path: RT } },
  });
  t.equal(config['default-runtime'], undefined, 'not the default unless asked');
  t.same(before.runtimes, { nvidia: { path: 'nvidia-container-runtime', runtimeArgs: [] } }, 'input not mutated');
});

t.test('--default makes gpumem the default and chains to the previous default runtime', async (t) => {
  const r = register({ 'default-runtime': 'nvidia', runtimes: { nvidia: { path: '/usr/bin/nvidia-container-runtime' } } }, RT, true, 'd');
  t.equal(r.config['default-runtime'], 'gpumem');
  t.equal(r.lowerRuntimePath, '/usr/bin/nvidia-container-runtime');
  t.equal(register({}, RT, true, 'd').lowerRuntimePath, undefined, 'no previous default: plain runc');
});

t.test('unregistering restores the previous default and drops only gpumem', async (t) => {
  const { config } = register({ 'default-runtime': 'nvidia', runtimes: { nvidia: { path: '/n' } } }, RT, true, 'd');
  t.same(unregister(config, 'nvidia', 'd'), { 'default-runtime': 'nvidia', runtimes: { nvidia: { path: '/n' } } });
  const alone = register({}, RT, true, 'd').config;
  t.same(unregister(alone, undefined, 'd'), {});
});

t.test('comments, invalid JSON and non-objects are refused with a one-line reason', async (t) => {
  t.throws(() => parseDaemonJson('{\n  // mine\n  "debug": true\n}', '/etc/docker/daemon.json'), {
    message: /daemon\.json contains comments.*nothing was changed/,
  });
  t.throws(() => parseDaemonJson('{"debug":\n tru}', 'x.json'), { message: /^gpumem: x\.json is not valid JSON \([^\n]*\); fix it first \(nothing was changed\)$/ });
  t.throws(() => parseDaemonJson('[1]', 'x.json'), { message: /must hold a JSON object/ });
  t.throws(() => register({ runtimes: 'runc' }, RT, false, 'x.json'), { message: /"runtimes" in x\.json must be an object/ });
  t.same(parseDaemonJson('  \n', 'x'), {}, 'an empty file is an empty config');
});

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'gpumem-daemon-json-'));
}

t.test('a bad daemon.json is left byte for byte as it was, with no backup or record', async (t) => {
  for (const text of ['{ /* c */ "a": 1 }', '{"a": ', '"just a string"']) {
    const dir = tmp();
    const file = join(dir, 'daemon.json');
    writeFileSync(file, text);
    t.throws(() => registerRuntime({ daemonJson: file, runtimePath: RT, makeDefault: true, recordPath: join(dir, 'rec.json') }));
    t.equal(readFileSync(file, 'utf8'), text);
    t.same(readdirSync(dir), ['daemon.json'], 'nothing else written');
  }
});

t.test('install then uninstall gives back the exact previous bytes, a backup exists meanwhile', async (t) => {
  const dir = tmp();
  const file = join(dir, 'daemon.json');
  const original = '{"log-level":"warn",   "runtimes": {"x": {"path": "/x"}}}\n';
  writeFileSync(file, original);
  const rec = join(dir, 'rec.json');
  registerRuntime({ daemonJson: file, runtimePath: RT, makeDefault: true, recordPath: rec });
  const installed = JSON.parse(readFileSync(file, 'utf8'));
  t.equal(installed['default-runtime'], 'gpumem');
  t.same(installed.runtimes.x, { path: '/x' });
  t.equal(readFileSync(file + '.gpumem-backup', 'utf8'), original);
  // Installing again must not forget the original.
  registerRuntime({ daemonJson: file, runtimePath: RT, makeDefault: true, recordPath: rec });
  t.equal(unregisterRuntime(rec).restored, 'exact');
  t.equal(readFileSync(file, 'utf8'), original);
});

t.test('uninstall removes a daemon.json that did not exist before', async (t) => {
  const dir = tmp();
  const file = join(dir, 'daemon.json');
  const rec = join(dir, 'rec.json');
  registerRuntime({ daemonJson: file, runtimePath: RT, makeDefault: false, recordPath: rec });
  t.ok(existsSync(file));
  unregisterRuntime(rec);
  t.notOk(existsSync(file));
});

t.test('uninstall after someone else edited daemon.json keeps their edit', async (t) => {
  const dir = tmp();
  const file = join(dir, 'daemon.json');
  writeFileSync(file, '{"debug": false}');
  const rec = join(dir, 'rec.json');
  registerRuntime({ daemonJson: file, runtimePath: RT, makeDefault: true, recordPath: rec });
  const edited = JSON.parse(readFileSync(file, 'utf8'));
  edited['log-level'] = 'debug';
  writeFileSync(file, JSON.stringify(edited));
  t.equal(unregisterRuntime(rec).restored, 'merged');
  t.same(JSON.parse(readFileSync(file, 'utf8')), { debug: false, 'log-level': 'debug' });
});
