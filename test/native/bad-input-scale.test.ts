// Bad input at scale, decided by the create step without dockerd: over a thousand generated
// values and keys, each refused with one line naming its key, none accepted, nothing left behind.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { quoteName } from '../../lib/ffi/native.js';
import { badInputs, HOST_GPUS } from '../e2e/lib/bad-inputs.js';
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
  const code = `import { hostGpus } from './dist/lib/ffi/native.js';
    import { create } from './dist/lib/runtime/create.js';
    const out = [];
    for (const { id, bundle } of JSON.parse(process.argv[1])) {
      const o = create(['--log', bundle + '/runc.log', 'create', '--bundle', bundle, id], process.cwd(), hostGpus);
      out.push(o.ok ? null : o.message);
    }
    console.log(JSON.stringify(out));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code, JSON.stringify(bundles)], {
    env: { PATH: process.env.PATH ?? '', LD_LIBRARY_PATH: 'native/build/fake', FAKE_NVML_DEVICE_MEMS: HOST_GPUS, GPUMEM_STATE_ROOT: state, GPUMEM_LOG_FILE: join(dir, 'gpumem.log') },
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  t.equal(r.status, 0, r.stderr);
  const messages = JSON.parse(r.stdout) as (string | null)[];
  const accepted = inputs.filter((_, i) => messages[i] === null);
  t.same(accepted.map((a) => ({ ...a.annotations, env: a.env })), [], 'none accepted');
  const unnamed = inputs.filter((input, i) => {
    const m = messages[i];
    return m !== null && (m.includes('\n') || !m.startsWith('gpumem:') || !(m.includes(input.key) || m.includes(quoteName(input.key))));
  });
  t.same(unnamed.map((u, i) => ({ key: u.key, message: messages[inputs.indexOf(u)] ?? '', i })).slice(0, 20), [], 'every refusal is one gpumem line naming its key');
  t.same(existsSync(state) ? readdirSync(state, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name) : [], [], 'no container state left');
});
