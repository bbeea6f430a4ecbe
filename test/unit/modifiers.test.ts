import t from 'tap';
import { applyModifiers, bindMounts, readOnlyBind } from '../../lib/oci/modifiers.js';
import type { Spec } from '../../lib/oci/spec.js';

t.test("mounts are added once, however often the shim runs, and the spec's other hooks and fields survive", async (t) => {
  const spec: Spec = {
    ociVersion: '1.0.2',
    mounts: [{ destination: '/proc', type: 'proc', source: 'proc' }],
    hooks: { prestart: [{ path: '/usr/bin/nvidia-container-runtime-hook', args: ['x', 'prestart'] }] },
    linux: { unknownField: { kept: true } },
  };
  const mods = [bindMounts([readOnlyBind('/src/lib.so', '/usr/local/lib/gpumem/libgpumem.so')])];
  applyModifiers(spec, mods);
  applyModifiers(spec, mods);
  t.same(spec.hooks, { prestart: [{ path: '/usr/bin/nvidia-container-runtime-hook', args: ['x', 'prestart'] }] });
  t.same(spec.mounts?.map((m) => m.destination), ['/proc', '/usr/local/lib/gpumem/libgpumem.so']);
  t.same(spec.linux, { unknownField: { kept: true } }, 'unknown fields survive');
  t.ok(spec.mounts?.[1]?.options?.includes('ro'), 'the interposer is mounted read-only');
});
