// Bad input at scale, decided by the create step without dockerd: over a thousand generated
// values and keys, each refused with one line naming its key, none accepted, nothing left behind.
import t from 'tap';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { quoteName } from '../../lib/ffi/native.js';
import { badInputs, HOST_GPUS } from '../e2e/lib/bad-inputs.js';
import { createMany } from './fixtures/create.js';
import { removeTree } from './fixtures/remove-tree.js';

t.test('over a thousand bad values and keys: each refused in one line naming its key, none accepted, no state left', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gpumem-bad-'));
  t.teardown(() => removeTree(dir));
  const inputs = badInputs();
  t.ok(inputs.length >= 1000, `${inputs.length} inputs`);
  const bundles = inputs.map((input, i) => {
    const bundle = join(dir, `b${i}`);
    mkdirSync(join(bundle, 'rootfs'), { recursive: true });
    writeFileSync(join(bundle, 'config.json'), JSON.stringify({
      ociVersion: '1.2.0', root: { path: 'rootfs' },
      process: { args: ['true'], env: ['PATH=/bin', 'NVIDIA_VISIBLE_DEVICES=all', ...input.env] },
      annotations: input.annotations,
    }));
    return { id: `c${i}`, bundle };
  });
  const state = join(dir, 'state');
  const outcomes = createMany(state, bundles, { FAKE_NVML_DEVICE_MEMS: HOST_GPUS });
  const messages = outcomes.map((o) => (o.ok ? null : (o.message ?? '')));
  const accepted = inputs.filter((_, i) => messages[i] === null);
  t.same(accepted.map((a) => ({ ...a.annotations, env: a.env })), [], 'none accepted');
  const unnamed = inputs.filter((input, i) => {
    const m = messages[i];
    return m !== null && (m.includes('\n') || !m.startsWith('gpumem:') || !(m.includes(input.key) || m.includes(quoteName(input.key))));
  });
  t.same(unnamed.map((u, i) => ({ key: u.key, message: messages[inputs.indexOf(u)] ?? '', i })).slice(0, 20), [], 'every refusal is one gpumem line naming its key');
  t.same(existsSync(state) ? readdirSync(state, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name) : [], [], 'no container state left');
});
