/** `gpumem daemon-json register|unregister`: how install.sh edits dockerd's daemon.json. */
import type { Argv } from 'yargs';
import { planRegistration, registerRuntime, releaseDefault, unregisterRuntime } from '../daemon/install-record.js';

export function daemonJsonCommand(y: Argv): Argv {
  return y.command(
    'daemon-json <action>',
    'register gpumem as a Docker runtime in daemon.json (preview: print what register would write), or take it back out (release-default, then unregister)',
    (c) =>
      c
        .positional('action', { choices: ['register', 'preview', 'release-default', 'unregister'] as const, demandOption: true })
        .option('file', { type: 'string', default: '/etc/docker/daemon.json', describe: 'daemon.json to edit' })
        .option('runtime-path', { type: 'string', describe: 'path of gpumem-runtime (register)' })
        .option('default', { type: 'boolean', default: false, describe: 'make gpumem the default runtime (register)' })
        .option('record', { type: 'string', demandOption: true, describe: 'where to remember the previous content' }),
    (a) => {
      if (a.action === 'preview') {
        if (!a['runtime-path']) throw new Error('gpumem: daemon-json preview needs --runtime-path');
        process.stdout.write(planRegistration({ daemonJson: a.file, runtimePath: a['runtime-path'], makeDefault: a.default, recordPath: a.record }).written);
      } else if (a.action === 'register') {
        if (!a['runtime-path']) throw new Error('gpumem: daemon-json register needs --runtime-path');
        const lower = registerRuntime({
          daemonJson: a.file,
          runtimePath: a['runtime-path'],
          makeDefault: a.default,
          recordPath: a.record,
        });
        // install.sh reads the lower runtime from stdout; empty means plain runc.
        process.stdout.write((lower ?? '') + '\n');
      } else if (a.action === 'release-default') {
        // install.sh reloads dockerd in between when this prints "changed".
        process.stdout.write(releaseDefault(a.record) ? 'changed\n' : 'unchanged\n');
      } else {
        const r = unregisterRuntime(a.record);
        process.stderr.write(
          r.restored === 'exact' ? `restored ${r.daemonJson} to its previous content\n`
          : r.restored === 'merged' ? `removed gpumem from ${r.daemonJson} (it was edited since install; other changes kept)\n`
          : 'gpumem was not registered; nothing to do\n',
        );
      }
    },
  );
}
