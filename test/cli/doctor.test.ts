// gpumem doctor on a host made here (test/cli/fixtures/doctor-host.ts): each check a user would
// act on is ok when the host is right and names its fix when it is not; exit 1 only when one failed.
import t from 'tap';
import { RUNTIME, host } from './fixtures/doctor-host.js';

t.test('a host installed right: every check ok, warned or skipped, exit 0', async (t) => {
  const h = host(t);
  const r = await h.doctor(undefined, [], true);
  t.equal(r.status, 0, r.stderr);
  t.match(r.byName.get('daemon.json'), { status: 'ok', detail: `runtime gpumem -> ${RUNTIME}` });
  t.match(r.byName.get('dockerd'), { status: 'ok', detail: 'Docker Engine 26.1.5 knows runtime gpumem' });
  t.match(r.byName.get('default runtime'), { status: 'ok', detail: /^runc: containers need --runtime gpumem/ });
  t.match(r.byName.get('interposer'), { status: 'skip', detail: /--image IMAGE/ });
  t.match(r.byName.get('NVML'), { status: 'ok', detail: 'driver 580.159.04, 3 GPUs (24GiB, 40GiB, 80GiB)' });
  t.match(r.byName.get('driver-taken memory'), { status: 'ok', detail: /^seen/ });
  t.match(r.byName.get('policy'), { status: 'ok', detail: /absent: no default or maximum limit$/ });
  t.match(r.byName.get('state directory'), { status: 'ok' });
  t.match(r.byName.get('ledger'), { status: 'ok', detail: /^admitted per GPU \(containers\): GPU-\S+ 8GiB \(1\)$/ });
  t.match(r.byName.get('agent'), { status: 'warn', fix: /gpumem-agent/ }, 'no agent runs here: a warning with its fix');
  t.match(r.byName.get('exporter'), { status: 'skip' });
  t.equal(r.table.status, 0);
  const table = r.table.stdout.split('\n\n')[0]!.split('\n');
  t.match(table[0], /^CHECK\s+STATUS\s+DETAIL$/);
  t.equal(table.length, 1 + r.checks.length, 'a row a check');
  t.ok(table.every((l) => l.length <= 80), `the table fits 80 columns:\n${r.table.stdout}`);
  t.match(r.table.stdout, /^agent: not answering on .*\n {2}fix: sudo systemctl restart gpumem-agent/m, 'the warning and its fix under the table, whole');
});

t.test('gpumem not in daemon.json, or dockerd not told: a failure naming the command that fixes it, exit 1', async (t) => {
  const missing = await host(t, { runtime: null }).doctor();
  t.equal(missing.status, 1);
  t.match(missing.byName.get('daemon.json'), { status: 'fail', detail: /registers no runtime "gpumem"$/, fix: 'sudo ./install.sh' });
  const stale = await host(t, { runtimes: ['runc'] }).doctor();
  t.equal(stale.status, 1);
  t.match(stale.byName.get('dockerd'), { status: 'fail', detail: /does not know runtime gpumem \(runtimes: runc\)$/, fix: /kill -HUP/ });
  const gone = await host(t, { runtime: '/nonexistent/gpumem-runtime' }).doctor();
  t.match(gone.byName.get('daemon.json'), { status: 'fail', detail: /which is not an executable file$/ });
  const old = await host(t).doctor({ ServerVersion: '20.10.24', Runtimes: { runc: {}, gpumem: {} }, DefaultRuntime: 'gpumem' });
  t.match(old.byName.get('dockerd'), { status: 'warn', detail: /cannot pass --annotation \(needs >= 24\)/, fix: /GPUMEM_LIMIT/ });
  t.match(old.byName.get('default runtime'), { status: 'ok', detail: /^gpumem, so every container passes through it/ });
  const away = await host(t).doctor(null);
  t.match(away.byName.get('dockerd'), { status: 'warn', detail: /^not answering: / });
  t.equal(away.status, 0, 'an engine that is away is a warning: gpumem is registered for its start');
});

