import t from 'tap';
import { planBudget, type Plan } from '../../lib/budget/plan.js';
import { limitRequest, LimitError } from '../../lib/budget/request.js';
import { DEFAULT_POLICY, parsePolicy, type Policy } from '../../lib/policy/policy.js';
import type { ContainerGpus } from '../../lib/gpu/container-gpus.js';

const GiB = 2n ** 30n;
const A = 'GPU-aaaaaaaa-0000-0000-0000-000000000000';
const B = 'GPU-bbbbbbbb-0000-0000-0000-000000000000';
const two: ContainerGpus = {
  kind: 'known',
  gpus: [
    { index: 0, uuid: A, totalBytes: 32 * 2 ** 30, minor: 0, mig: false },
    { index: 1, uuid: B, totalBytes: 80 * 2 ** 30, minor: 1, mig: false },
  ],
};
const FILE = '/etc/gpumem/config.json';
const policy = (json: object): Policy => parsePolicy(JSON.stringify(json), FILE);
const plan = (annotations: Record<string, string>, env: Record<string, string>, p: Policy = DEFAULT_POLICY, gpus = two): Plan =>
  planBudget({ request: limitRequest(annotations, env), gpus, policy: p, policyFile: FILE });
const budgets = (p: Plan) => (p.action === 'limit' ? p.gpus.map((g) => [g.uuid.slice(0, 12), g.bytes === undefined ? null : Number(g.bytes / 2n ** 20n), g.from]) : p.reason);

t.test('budgets are keyed by UUID: a UUID key wins over an index key, which wins over the key for every GPU', async (t) => {
  const p = plan({ 'gpumem.io/limit': '4g', 'gpumem.io/limit.1': '8g', [`gpumem.io/limit.${B.toLowerCase()}`]: '16g' }, {});
  t.same(budgets(p), [
    ['GPU-aaaaaaaa', 4096, 'annotation gpumem.io/limit'],
    ['GPU-bbbbbbbb', 16384, `annotation gpumem.io/limit.${B}`],
  ]);
  t.same(p.action === 'limit' && [...p.config.uuids!], [[0, A], [1, B]], 'the interposer is told which device each index is');
});

t.test("a GPU container that asks for nothing gets the policy's defaultLimit, else its maxLimit, else no budget", async (t) => {
  t.same(budgets(plan({}, {}, policy({ defaultLimit: '8g', maxLimit: '16g' }))), [['GPU-aaaaaaaa', 8192, 'policy defaultLimit'], ['GPU-bbbbbbbb', 8192, 'policy defaultLimit']]);
  t.same(budgets(plan({}, {}, policy({ maxLimit: '50%' }))), [['GPU-aaaaaaaa', 16384, 'policy maxLimit'], ['GPU-bbbbbbbb', 40960, 'policy maxLimit']], 'a percent of each GPU');
  t.match(budgets(plan({}, {})), /asks for no limit, and the host policy has no defaultLimit or maxLimit/);
  t.same(budgets(plan({ 'gpumem.io/limit.0': '2g' }, {}, policy({ defaultLimit: '8g' }))), [['GPU-aaaaaaaa', 2048, 'annotation gpumem.io/limit.0'], ['GPU-bbbbbbbb', 8192, 'policy defaultLimit']], 'the default fills the GPUs not asked for');
});

t.test('a request above maxLimit is refused naming both', async (t) => {
  t.throws(() => plan({ 'gpumem.io/limit': '20g' }, {}, policy({ maxLimit: '16g' })), {
    message: `gpumem: annotation gpumem.io/limit asks for 20GiB on GPU 0 (${A}), more than this host's maxLimit 16GiB (${FILE}); ask for at most 16GiB`,
  });
  t.throws(() => plan({ 'gpumem.io/limit.1': '90%' }, {}, policy({ maxLimit: '50%' })), { message: /gpumem.io\/limit.1 asks for 72GiB on GPU 1 .* maxLimit 50% .* at most 40GiB/ });
});

t.test('envLimit: "ignore" drops GPUMEM_LIMIT, "lower" lets it only lower the default, "allow" takes it', async (t) => {
  const env = { GPUMEM_LIMIT: '12g' };
  t.same(budgets(plan({}, env, policy({ defaultLimit: '8g', envLimit: 'ignore' }))), [['GPU-aaaaaaaa', 8192, 'policy defaultLimit'], ['GPU-bbbbbbbb', 8192, 'policy defaultLimit']]);
  t.throws(() => plan({}, env, policy({ defaultLimit: '8g', envLimit: 'lower' })), {
    message: /^gpumem: environment variable GPUMEM_LIMIT asks for 12GiB on GPU 0 .*, more than the 8GiB of policy defaultLimit; this host's policy \(envLimit "lower"\) lets the environment only lower a budget/,
  });
  t.same(budgets(plan({}, { GPUMEM_LIMIT: '2g' }, policy({ defaultLimit: '8g', envLimit: 'lower' })))[0], ['GPU-aaaaaaaa', 2048, 'environment variable GPUMEM_LIMIT']);
  t.same(budgets(plan({}, env, policy({ defaultLimit: '8g' })))[0], ['GPU-aaaaaaaa', 12288, 'environment variable GPUMEM_LIMIT']);
  t.same(budgets(plan({ 'gpumem.io/limit': '20g' }, {}, policy({ defaultLimit: '8g', envLimit: 'lower' })))[0], ['GPU-aaaaaaaa', 20480, 'annotation gpumem.io/limit'], 'annotations are not the environment');
});

t.test('keys for GPUs the container lacks are refused', async (t) => {
  t.throws(() => plan({ 'gpumem.io/limit.2': '1g' }, {}), { message: /gpumem.io\/limit.2 is for the container's GPU 2, but it sees 2 GPUs/ });
  t.throws(() => plan({ 'gpumem.io/limit.GPU-cccccccc-0000-0000-0000-000000000000': '1g' }, {}), {
    message: `gpumem: annotation gpumem.io/limit.GPU-cccccccc-0000-0000-0000-000000000000 is for a GPU this container does not have (its GPUs are ${A}, ${B}); use gpumem.io/limit, or one of its UUIDs`,
  });
  t.throws(() => plan({ 'gpumem.io/limit': '40g' }, {}), LimitError, '40g is more than the 32 GiB GPU');
});

t.test('without NVML a default applies as a size; a percent default cannot', async (t) => {
  const unknown: ContainerGpus = { kind: 'unknown', count: 2, why: 'no NVML' };
  const p = plan({}, {}, policy({ defaultLimit: '8g' }), unknown);
  t.same(p.action === 'limit' && [p.config.all, p.from], [8n * GiB, 'policy defaultLimit']);
  t.throws(() => plan({}, {}, policy({ defaultLimit: '50%' }), unknown), { message: /defaultLimit 50% is a percent, and this host cannot tell the container's GPUs/ });
  t.throws(() => plan({ 'gpumem.io/limit': '20g' }, {}, policy({ maxLimit: '16g' }), unknown), { message: /more than this host's maxLimit 16GiB/ });
});

t.test('a container with no GPU is left alone unless it asks', async (t) => {
  t.equal(plan({}, {}, policy({ defaultLimit: '8g' }), { kind: 'none' }).action, 'pass');
  t.equal(plan({ 'gpumem.io/limit': '1g' }, {}, DEFAULT_POLICY, { kind: 'none' }).action, 'limit');
});
