// gpumem inspect for containers the create step made on three fake GPUs: a JSON array like docker
// inspect, each GPU with its UUID, its budget and the key it came from; an unknown container is
// one line on stderr and exit status 1, the known ones still printed.
import t from 'tap';
import { gpumem, makeContainers } from './fixtures/gpu-host.js';

const GiB = 2 ** 30;
const A = 'a'.repeat(64);
const B = 'b'.repeat(64);

t.test('gpumem inspect tells each GPU\'s budget, UUID and where it came from, and the region and config as read', async (t) => {
  const m = makeContainers(t, [
    { id: A, annotations: { 'gpumem.io/limit': '8g' }, visible: '0' },
    { id: B, annotations: { 'gpumem.io/limit': '50%', 'gpumem.io/limit.1': '4g' }, visible: '1,2' },
  ]);
  const [one, both] = await Promise.all([gpumem(m.env, ['inspect', 'bbb']), gpumem(m.env, ['inspect', A, 'nosuch'])]);
  t.equal(one.status, 0, one.stderr);
  const [b] = JSON.parse(one.stdout);
  const uuid = /^GPU-[0-9a-f-]{36}$/;
  t.match(b, {
    id: B,
    name: null,
    gone: null,
    decision: {
      gpus: [
        { index: 0, uuid, budget: 20 * GiB, from: 'annotation gpumem.io/limit' },
        { index: 1, uuid, budget: 4 * GiB, from: 'annotation gpumem.io/limit.1' },
      ],
      log: { decided: /^\d{4}-\d\d-\d\dT/, updated: [] },
    },
    config: { perGpu: { 0: 20 * GiB, 1: 4 * GiB }, uuids: { 0: uuid, 1: uuid } },
    region: { usedPerGpu: {}, processes: 0, peak: {}, refused: {} },
    processes: { slots: 0, slotDetail: [], host: null },
    hostRecord: { visibleDevices: '1,2' },
    gpus: [{ gpu: '0', limit: 20 * GiB, used: 0 }, { gpu: '1', limit: 4 * GiB, used: 0 }],
    tampering: false,
  });
  t.equal(b.decision.gpus[0].uuid, b.config.uuids['0'], 'the decision names the GPU the config pins');
  t.not(b.decision.gpus[0].uuid, b.decision.gpus[1].uuid);
  t.ok(b.stateDir.endsWith(B));

  t.equal(both.status, 1, 'an unknown container fails the command, like docker inspect');
  t.match(both.stderr, /^gpumem: no container limited by gpumem matches "nosuch".*\n$/, 'in one line');
  const printed = JSON.parse(both.stdout);
  t.same(printed.map((c: { id: string }) => c.id), [A], 'the known one is still printed');
  t.match(printed[0].decision.gpus, [{ index: 0, uuid, budget: 8 * GiB, from: 'annotation gpumem.io/limit' }]);
});

t.test('gpumem inspect after gpumem update says the budget came from the update', async (t) => {
  const m = makeContainers(t, [{ id: A, annotations: { 'gpumem.io/limit': '8g' }, visible: '0' }]);
  const u = await gpumem(m.env, ['update', A, '--limit', '2g']);
  t.equal(u.status, 0, u.stderr);
  const r = await gpumem(m.env, ['inspect', A]);
  t.match(JSON.parse(r.stdout)[0].decision, { gpus: [{ index: 0, budget: 2 * GiB, from: 'gpumem update' }], log: { updated: [/^\d{4}-/] } });
});
