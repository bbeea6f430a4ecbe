#!/usr/bin/env node
/** gpumem: the operator's command line. */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { agentCommand } from '../lib/cli/agent-command.js';
import { daemonJsonCommand } from '../lib/cli/daemon-json-command.js';
import { doctorCommand } from '../lib/cli/doctor-command.js';
import { exporterCommand } from '../lib/cli/exporter-command.js';
import { inspectCommand } from '../lib/cli/inspect-command.js';
import { psCommand } from '../lib/cli/ps-command.js';
import { topCommand } from '../lib/cli/top-command.js';
import { updateCommand } from '../lib/cli/update-command.js';

// Every error is one line on stderr and exit status 1, whether yargs or a command raised it.
const fail = (message: string): never => {
  process.stderr.write(message + '\n');
  process.exit(1);
};

let cli = yargs(hideBin(process.argv)).scriptName('gpumem').strict().demandCommand(1).help();
cli = agentCommand(cli);
cli = daemonJsonCommand(cli);
cli = doctorCommand(cli);
cli = exporterCommand(cli);
cli = inspectCommand(cli);
cli = psCommand(cli);
cli = topCommand(cli);
cli = updateCommand(cli);
try {
  await cli.fail((msg, err) => fail(err?.message ?? msg)).parseAsync();
} catch (e) {
  fail((e as Error).message);
}
