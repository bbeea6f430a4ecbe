import t from 'tap';
import { applyModifiers, bindMounts, gpumemHooks, readOnlyBind } from '../../lib/oci/modifiers.js';
import type { Spec } from '../../lib/oci/spec.js';

t.test('hooks and mounts are added once, however often the shim runs', async (t) => {
  const spec: Spec = {
    ociVersion: '1.0.2',
    mounts: [{ destination: '/proc', type: 'proc', source: 'proc' }],
    hooks: { prestart: [{ path: '/usr/bin/nvidia-container-runtime-hook', args: ['x', 'prestart'] }] },
    linux: { unknownField: { kept: true } },
  };
  const mods = [gpumemHooks('/h'), bindMounts([readOnlyBind('/src/lib.so', '/usr/local/lib/gpumem/libgpumem.so')])];
  applyModifiers(spec, mods);
  applyModifiers(spec, mods);
  t.same(spec.hooks?.prestart?.map((h) => h.path), ['/usr/bin/nvidia-container-runtime-hook', '/h']);
  t.same(spec.hooks?.poststop, [{ path: '/h', args: ['gpumem-hook', 'poststop'] }]);
  t.same(spec.mounts?.map((m) => m.destination), ['/proc', '/usr/local/lib/gpumem/libgpumem.so']);
  t.same(spec.linux, { unknownField: { kept: true } }, 'unknown fields survive');
  t.ok(spec.mounts?.[1]?.options?.includes('ro'), 'the interposer is mounted read-only');
});
