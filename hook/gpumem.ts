#!/usr/bin/env node
/** gpumem: the operator's command line. */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { daemonJsonCommand } from '../lib/cli/daemon-json-command.js';
import { psCommand } from '../lib/cli/ps-command.js';

let cli = yargs(hideBin(process.argv)).scriptName('gpumem').strict().demandCommand(1).help();
cli = daemonJsonCommand(cli);
cli = psCommand(cli);
cli
  .fail((msg, err) => {
    process.stderr.write((err?.message ?? msg) + '\n');
    process.exit(1);
  })
  .parse();
