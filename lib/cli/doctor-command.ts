/** `gpumem doctor`: every check an operator needs, each failing one with its fix; exit 1 when one failed. */
import type { Argv } from 'yargs';
import { exitStatus, judge, type Check } from '../doctor/checks.js';
import { gatherFacts } from '../doctor/facts.js';
import { outputWidth } from './ps-command.js';
import { fitColumns, renderTable } from './table.js';

const MARK: Record<Check['status'], string> = { ok: 'ok', warn: 'WARN', fail: 'FAIL', skip: 'skipped' };

/** The checks as a table fitted to `width` (the detail is cut first), then the fixes of what is not ok. */
export function doctorTable(checks: readonly Check[], width: number): string {
  const rows = checks.map((c) => ({ check: c.check, status: MARK[c.status], detail: c.detail }));
  const layout = fitColumns(['check', 'status', { key: 'detail', min: 20 }], rows, width);
  let text = renderTable(layout, rows);
  const fixes = checks.filter((c) => c.fix !== null);
  if (fixes.length) text += '\n' + fixes.map((c) => `${c.check}: ${c.detail}\n  fix: ${c.fix}\n`).join('');
  return text;
}

export function doctorCommand(y: Argv): Argv {
  return y.command(
    'doctor',
    "check this host's gpumem install: runtime, dockerd, interposer, NVML, policy, state, ledger, agent, exporter",
    (c) =>
      c
        .option('format', { choices: ['table', 'json'] as const, default: 'table' as const, describe: 'table, or a JSON array of {check, status, detail, fix}' })
        .option('image', { type: 'string', describe: 'a local image (glibc, with cat) to run a test container of through the gpumem runtime' })
        .option('probe', { type: 'string', default: 'cat', describe: 'the program in --image the test container runs: dynamically linked, printing the files it is given' })
        .option('daemon-json', { type: 'string', describe: "daemon.json to check (default: the one install.sh registered in, else /etc/docker/daemon.json)" })
        .option('exporter', { type: 'string', describe: 'HOST:PORT the exporter serves on (default: its unit\'s, else 127.0.0.1:9400)' })
        .example('sudo gpumem doctor', 'every check but the test container')
        .example('sudo gpumem doctor --image ubuntu:24.04', 'also run a container through gpumem and see the interposer loaded')
        .example("sudo gpumem doctor --format json | jq -r '.[] | select(.status == \"fail\") | .fix'", 'only the fixes of what failed')
        .epilogue('Exit status: 0 when no check failed (warnings and skipped checks allowed), 1 when one did or gpumem cannot run.'),
    async (a) => {
      const checks = judge(await gatherFacts({
        ...(a.image ? { image: a.image, probe: a.probe } : {}),
        ...(a['daemon-json'] ? { daemonJson: a['daemon-json'] } : {}),
        ...(a.exporter ? { exporter: a.exporter } : {}),
      }));
      process.stdout.write(a.format === 'json' ? JSON.stringify(checks, null, 2) + '\n' : doctorTable(checks, outputWidth()));
      process.exitCode = exitStatus(checks);
    },
  );
}
