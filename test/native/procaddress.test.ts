// cuGetProcAddress (how cudart 12/13 reaches the driver) hands out our wrappers exactly where the
// driver would hand out the functions we wrap, and the driver's answer everywhere else.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { envFor, program } from './fixtures/native.js';

interface Answer { query: string; rc: number; status: number; from: string; name: string }

const ask = (queries: string[], extra: Record<string, string> = {}, preload = true) => {
  const r = spawnSync(program('procaddress-probe'), queries, { env: envFor({ preload, extra }), encoding: 'utf8' });
  return Object.fromEntries((JSON.parse(r.stdout) as Answer[]).map((a) => [a.query, a]));
};

t.test('cuMemAlloc at CUDA 12 is our cuMemAlloc_v2 wrapper, for every stream flag', async (t) => {
  const a = ask(['cuMemAlloc:12000:0', 'cuMemAlloc:12000:1', 'cuMemAlloc:12000:2', 'cuMemFree:13000:0', 'cuMemGetInfo:12000:0', 'cuDeviceTotalMem:12000:0']);
  for (const q of Object.values(a)) {
    t.match(q, { rc: 0, status: 0, from: 'libgpumem.so' }, q.query);
  }
  t.equal(a['cuMemAlloc:12000:0']!.name, 'cuMemAlloc_v2');
});

t.test('cuMemAlloc below CUDA 3.2 is the old 32-bit function and passes through', async (t) => {
  t.match(ask(['cuMemAlloc:3000:0'])['cuMemAlloc:3000:0'], { rc: 0, status: 0, from: 'libcuda.so.1', name: 'cuMemAlloc' });
});

t.test('functions gpumem does not wrap come straight from the driver', async (t) => {
  t.match(ask(['cuInit:12000:0'])['cuInit:12000:0'], { rc: 0, status: 0, from: 'libcuda.so.1', name: 'cuInit' });
});

t.test('cuGetProcAddress asked for itself returns our wrapper of the matching version', async (t) => {
  const a = ask(['cuGetProcAddress:12000:0', 'cuGetProcAddress:11030:0']);
  t.match(a['cuGetProcAddress:12000:0'], { rc: 0, from: 'libgpumem.so', name: 'cuGetProcAddress_v2' });
  t.match(a['cuGetProcAddress:11030:0'], { rc: 0, from: 'libgpumem.so', name: 'cuGetProcAddress' });
});

t.test('the driver\'s errors and symbolStatus reach the caller unchanged', async (t) => {
  const a = ask(['cuNope:12000:0', 'cuGetProcAddress:11000:0', 'cuMemAlloc:12000:7']);
  t.match(a['cuNope:12000:0'], { rc: 500, status: 1, from: 'null' }, 'unknown symbol: CUDA_ERROR_NOT_FOUND');
  t.match(a['cuGetProcAddress:11000:0'], { rc: 500, status: 2, from: 'null' }, 'version not sufficient');
  t.match(a['cuMemAlloc:12000:7'], { rc: 1, from: 'null' }, 'bad flags: CUDA_ERROR_INVALID_VALUE');
});

t.test('success with a NULL pointer from the driver is returned unchanged', async (t) => {
  const a = ask(['cuMemAlloc:12000:0'], { FAKE_CUDA_PROC_NULL: 'cuMemAlloc' });
  t.match(a['cuMemAlloc:12000:0'], { rc: 0, status: 0, from: 'null' });
});

t.test('kernel launches, module loads and cuCtxSetLimit are ours through cuGetProcAddress, the per-thread-stream launch included', async (t) => {
  const a = ask(['cuLaunchKernel:12000:0', 'cuLaunchKernel:12000:2', 'cuLaunchKernelEx:12000:0', 'cuLaunchKernelEx:12000:2',
    'cuModuleLoadData:12000:0', 'cuCtxSetLimit:12000:0']);
  t.match(a['cuLaunchKernel:12000:0'], { rc: 0, from: 'libgpumem.so', name: 'cuLaunchKernel' });
  t.match(a['cuLaunchKernel:12000:2'], { rc: 0, from: 'libgpumem.so', name: 'cuLaunchKernel_ptsz' }, 'flags 2: the _ptsz wrapper');
  t.match(a['cuLaunchKernelEx:12000:0'], { rc: 0, from: 'libgpumem.so', name: 'cuLaunchKernelEx' });
  t.match(a['cuLaunchKernelEx:12000:2'], { rc: 0, from: 'libgpumem.so', name: 'cuLaunchKernelEx_ptsz' });
  t.match(a['cuModuleLoadData:12000:0'], { rc: 0, from: 'libgpumem.so', name: 'cuModuleLoadData' });
  t.match(a['cuCtxSetLimit:12000:0'], { rc: 0, from: 'libgpumem.so', name: 'cuCtxSetLimit' });
  const before = ask(['cuLaunchKernelEx:11000:0'])['cuLaunchKernelEx:11000:0'];
  t.match(before, { rc: 500, from: 'null' }, 'below CUDA 11.6 the driver answers (it has no cuLaunchKernelEx there)');
});
