// The interposer is reached however a program finds the driver, and leaves other look-ups alone.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { build, envFor, interposer, objdumpT, program, runProgram } from './fixtures/native.js';

const run = (name: string, preload: boolean) => {
  const r = runProgram(name, [], envFor({ preload }));
  return { ...(r.json as unknown as Record<string, unknown>), stderr: r.stderr };
};

t.test('dlsym(RTLD_NEXT, ...) from a library still resolves relative to that library under LD_PRELOAD', async (t) => {
  t.equal(run('rtld-next', false).probe, 102, 'baseline without the interposer');
  t.equal(run('rtld-next', true).probe, 102, 'same with the interposer: our dlsym is a tail call');
});

t.test('a program linked against the new dlsym@GLIBC_2.34 is intercepted', async (t) => {
  t.match(objdumpT(program('dlsym-new')), /\(GLIBC_2\.34\)\s+dlsym/);
  t.match(run('dlsym-new', false).from, /fake\/libcuda\.so\.1$/);
  t.equal(run('dlsym-new', true).from, interposer);
});

t.test('a program linked against the old dlsym@GLIBC_2.2.5 is intercepted', async (t) => {
  t.match(objdumpT(program('dlsym-old')), /\(GLIBC_2\.2\.5\)\s+dlsym/);
  t.match(run('dlsym-old', false).from, /fake\/libcuda\.so\.1$/);
  t.equal(run('dlsym-old', true).from, interposer);
});

t.test('libgpumem.so exports only the wrapped driver functions and dlsym', async (t) => {
  const exported = objdumpT(interposer)
    .split('\n')
    .filter((l) => /\sDF\s+\.text/.test(l))
    .map((l) => l.trim().split(/\s+/).pop())
    .sort();
  // The wrapped functions are the GPUMEM_1 names of the export map (every family adds its own).
  const map = readFileSync(join(build, '../src/interposer/libgpumem.map'), 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '');
  const wrapped = (map.match(/GPUMEM_1\s*\{\s*global:([^}]*?)local:/)?.[1] ?? '')
    .split(';').map((s) => s.trim()).filter(Boolean);
  t.ok(wrapped.includes('cuMemAlloc_v2') && wrapped.includes('cuGetProcAddress_v2'), 'map parsed');
  t.same(exported, [...wrapped, 'dlsym', 'dlsym'].sort());
  t.match(objdumpT(interposer), /GLIBC_2\.34\s+dlsym/);
  t.match(objdumpT(interposer), /\(GLIBC_2\.2\.5\)\s+dlsym/);
});

t.test('libgpumem.so and libgpumem-host.so need nothing newer than GLIBC_2.17', async (t) => {
  for (const lib of [interposer, join(build, 'libgpumem-host.so')]) {
    const needed = objdumpT(lib)
      .split('\n')
      .filter((l) => l.includes('*UND*'))
      .flatMap((l) => l.match(/GLIBC_(\d+)\.(\d+)/) ?? [])
      .filter((v) => v.startsWith('GLIBC_'));
    const tooNew = needed.filter((v) => {
      const [major, minor] = v.slice(6).split('.').map(Number);
      return major! > 2 || (major === 2 && minor! > 17);
    });
    t.same(tooNew, [], `${lib} needs only ${[...new Set(needed)].join(', ')}`);
  }
});
