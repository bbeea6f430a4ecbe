/** `gpumem agent`: run the host agent that decides container creates for the runtime shim (systemd runs it). */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Argv } from 'yargs';
import { startAgent } from '../agent/server.js';
import { agentPidfile, agentSocket } from '../layout.js';

export function agentCommand(y: Argv): Argv {
  return y.command(
    'agent',
    'run the host agent: decides each limited container at create, so its start needs no Node start (install.sh starts it)',
    (c) =>
      c
        .option('socket', { type: 'string', describe: 'unix socket to listen on (default: agent.sock under the state root)' })
        .option('pidfile', { type: 'string', describe: 'where to write the pid (default: agent.pid under the state root)' })
        .example('gpumem agent', 'listen on /run/gpumem/agent.sock until SIGTERM'),
    async (a) => {
      const socket = a.socket ?? agentSocket();
      mkdirSync(dirname(socket), { recursive: true, mode: 0o755 });
      await startAgent({ socket, pidfile: a.pidfile ?? agentPidfile() });
      process.stdout.write(`gpumem agent listening on ${socket}\n`);
      await new Promise(() => {}); // until a signal
    },
  );
}
