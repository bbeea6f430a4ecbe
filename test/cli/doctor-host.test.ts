// gpumem doctor on a host made here: the policy, the driver, the state directory and the exporter.
import t from 'tap';
import { chmodSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { host } from './fixtures/doctor-host.js';

t.test('a policy file with a mistake fails with the policy\'s own one line; an old driver is a warning', async (t) => {
  const r = await host(t, { policy: '{"defaultLimit": "8g", "maxLimt": "16g"}', driver: '550.54.15' }).doctor();
  t.equal(r.status, 1);
  const p = r.byName.get('policy')!;
  t.equal(p.status, 'fail');
  t.match(p.detail, /^gpumem: policy .*maxLimt/, 'the loader\'s message, naming the key');
  t.match(p.fix, /docs\/policy\.md/);
  t.match(r.byName.get('driver-taken memory'), { status: 'warn', detail: /driver 550\.54\.15 gives no per-process memory inside containers/, fix: /565/ });
});

t.test('a state directory that is a link, or writable by others, fails', async (t) => {
  const h = host(t);
  chmodSync(h.m.root, 0o777);
  const open = await h.doctor();
  t.match(open.byName.get('state directory'), { status: 'fail', detail: /writable by group or others \(mode 777\)/, fix: /chmod go-w/ });
  const link = join(h.m.dir, 'state-link');
  symlinkSync(h.m.root, link);
  h.m.env.GPUMEM_STATE_ROOT = link;
  const linked = await h.doctor();
  t.equal(linked.status, 1);
  t.match(linked.byName.get('state directory'), { status: 'fail', detail: /is a symbolic link/ });
});

t.test('an exporter named but not answering is a warning with its fix', async (t) => {
  const h = host(t);
  mkdirSync(h.m.root, { recursive: true });
  writeFileSync(join(h.m.root, 'exporter.pid'), '999999\n');
  const r = await h.doctor(undefined, ['--exporter', '127.0.0.1:1']);
  t.match(r.byName.get('exporter'), { status: 'warn', detail: /^not answering on 127\.0\.0\.1:1/, fix: /gpumem-exporter/ });
  rmSync(join(h.m.root, 'exporter.pid'));
});
