/** `gpumem exporter`: serve Prometheus metrics of every limited container's GPU budgets and use (systemd runs it: share/gpumem-exporter.service). */
import type { Argv } from 'yargs';
import { DEFAULT_LISTEN, parseListen } from '../metrics/listen.js';
import { exporterRegistry } from '../metrics/registry.js';
import { startServer } from '../metrics/server.js';

export function exporterCommand(y: Argv): Argv {
  return y.command(
    'exporter',
    'serve Prometheus metrics (budget, use, driver overhead per container and GPU) over HTTP at /metrics',
    (c) =>
      c
        .option('listen', { type: 'string', default: DEFAULT_LISTEN, describe: 'HOST:PORT to listen on (port 0: any free port)' })
        .example('gpumem exporter', 'serve http://127.0.0.1:9400/metrics until SIGTERM')
        .example('gpumem exporter --listen 0.0.0.0:9400', 'serve on every interface, for a Prometheus on another host')
        .example('curl -s 127.0.0.1:9400/metrics | grep gpumem_used_bytes', 'what each container holds on each GPU')
        .epilog('Exit status: 0 after SIGTERM or SIGINT; 1 when --listen is not an address or cannot be listened on (the message says which).'),
    async (a) => {
      const at = parseListen(Array.isArray(a.listen) ? String(a.listen.at(-1)) : String(a.listen));
      const { server, address } = await startServer(exporterRegistry(), at);
      process.stdout.write(`gpumem exporter listening on http://${address}/metrics\n`);
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          server.close(() => resolve());
          server.closeAllConnections();
        };
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
      });
    },
  );
}
