// Every synchronous allocation family (pitch, managed, VMM, arrays) is charged to the one budget at
// what the driver really takes, refused at the budget, and uncharged when freed.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { MiB, accountingUsage, envFor, makeStateDir, program, programs, runProgram } from './fixtures/native.js';

interface Fill {
  allocated: number;
  blocks: number;
  error: string | null;
  api: string;
  pitch: number;
}

const block = 4 * MiB;
const width = 1000; // bytes per row for pitch and arrays: the fake pads it to 1024
const budget = 64 * MiB;
const families = ['pitch', 'managed', 'vmm', 'array', 'array3d', 'mipmapped'] as const;
const rotation = ['malloc', ...families]; // the order --api mix goes through

// What the fake driver takes for one block of each family (rows padded to 512 bytes, 4 KiB per
// array), computed the way alloc-until-oom sizes its blocks.
const pad = (n: number) => Math.ceil(n / 512) * 512;
const rows = Math.floor(block / width);
const perBlock: Record<string, number> = {
  malloc: block,
  pitch: pad(width) * rows,
  managed: block,
  vmm: block,
  array: pad(width) * rows + 4096,
  array3d: pad(width) * 64 * Math.floor(block / (width * 64)) + 4096,
  mipmapped:
    [0, 1, 2, 3].reduce((sum, l) => sum + pad(Math.max(1, width >> l)) * Math.max(1, rows >> l), 0) + 4096,
};

/** Runs a program that holds its blocks, then frees them and holds again; reads the shared
 * region at both points, while the process (and so its charges) still lives. */
async function fillAndFree(name: string, args: string[], extra: Record<string, string> = {}) {
  const state = makeStateDir(BigInt(budget));
  try {
    const child = spawn(program(name), [...args, '--free', '--hold', '20', '--hold-freed', '20'], {
      env: envFor({ extra: { GPUMEM_STATE_DIR: state.dir, ...extra } }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let stderr = '';
    let exited = false;
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', () => (exited = true));
    const line = async (k: number) => {
      for (let i = 0; i < 500; i++) {
        const all = out.split('\n').filter(Boolean);
        if (all.length > k) return JSON.parse(all[k]!) as Record<string, unknown>;
        if (exited) break;
        await new Promise((ok) => setTimeout(ok, 20));
      }
      throw new Error(`no line ${k} from ${name}: ${out} ${stderr}`);
    };
    const used = () => {
      const u = accountingUsage(state.accounting);
      if ('error' in u) throw new Error(u.error);
      return u.used[0]!;
    };
    const fill = (await line(0)) as unknown as Fill;
    const usedFull = used();
    child.kill('SIGTERM');
    await line(1);
    const usedFreed = used();
    child.kill('SIGTERM');
    await new Promise<void>((ok) => (exited ? ok() : child.on('exit', () => ok())));
    return { fill, usedFull, usedFreed, stderr };
  } finally {
    state.cleanup();
  }
}

for (const name of programs) {
  for (const api of families) {
    t.test(`${name}: ${api} allocations stop at a 64 MiB budget with CUDA_ERROR_OUT_OF_MEMORY and are all given back when freed`, async (t) => {
      const r = await fillAndFree(name, ['--api', api, '--block', '4m', '--width', String(width)]);
      t.equal(r.fill.api, api);
      t.equal(r.fill.error, 'CUDA_ERROR_OUT_OF_MEMORY');
      t.equal(r.usedFull, r.fill.blocks * perBlock[api]!, `charged exactly what the driver took (${perBlock[api]} a block)`);
      t.ok(r.usedFull <= budget, `charged ${r.usedFull} <= 64 MiB`);
      t.ok(r.usedFull > budget - perBlock[api]!, `charged ${r.usedFull}: refused only when one more block would not fit`);
      t.equal(r.usedFreed, 0, 'freeing everything leaves the shared region at 0');
      t.equal(r.stderr, '');
    });
  }

  t.test(`${name}: a mix of all families shares one budget and one region`, async (t) => {
    const r = await fillAndFree(name, ['--api', 'mix', '--block', '4m', '--width', String(width)]);
    const expected = Array.from({ length: r.fill.blocks }, (_, i) => perBlock[rotation[i % rotation.length]!]!)
      .reduce((a, b) => a + b, 0);
    t.equal(r.fill.error, 'CUDA_ERROR_OUT_OF_MEMORY');
    t.ok(r.fill.blocks >= rotation.length, `every family got blocks (${r.fill.blocks})`);
    t.equal(r.usedFull, expected, 'each block charged at its own family\'s size');
    t.ok(r.usedFull <= budget && r.usedFull > budget - Math.max(...Object.values(perBlock)), `charged ${r.usedFull}`);
    t.equal(r.usedFreed, 0);
  });
}

t.test('a pitched allocation is charged at the pitch the driver returns, not the width asked for', async (t) => {
  // 1024 rows of 1000 bytes: the fake pads each row to 1024 bytes, so exactly 1 MiB is taken.
  const r = await fillAndFree('alloc-until-oom', ['--api', 'pitch', '--width', '1000', '--block', '1024000', '--max', '1024000']);
  t.equal(r.fill.pitch, 1024);
  t.equal(r.fill.blocks, 1);
  t.equal(r.fill.error, null);
  t.equal(r.usedFull, 1024 * 1024, 'charged 1024 bytes a row');
  t.equal(r.fill.allocated, r.usedFull);
  t.equal(r.usedFreed, 0);
});

t.test('a pitch wider than gpumem expected is still charged in full and kept within the budget', async (t) => {
  // The fake pads rows to 2048 bytes while saying 512: the charge grows after the call.
  const r = await fillAndFree('alloc-until-oom', ['--api', 'pitch', '--width', '1000', '--block', '4m'], {
    FAKE_CUDA_PITCH_ROUND: '2048',
  });
  t.equal(r.fill.pitch, 2048);
  t.equal(r.fill.error, 'CUDA_ERROR_OUT_OF_MEMORY');
  t.equal(r.usedFull, r.fill.blocks * 2048 * rows, 'charged at the real pitch');
  t.equal(r.fill.allocated, r.usedFull);
  t.ok(r.usedFull <= budget && r.usedFull > budget - 2048 * rows, `charged ${r.usedFull}`);
  t.equal(r.usedFreed, 0, 'the refused last block was freed and uncharged');
});

for (const name of programs) {
  t.test(`${name}: VMM blocks released right after mapping stay charged until unmapped, and are all given back then`, async (t) => {
    const r = await fillAndFree(name, ['--api', 'vmm', '--map', '--block', '4m']);
    t.equal(r.fill.error, 'CUDA_ERROR_OUT_OF_MEMORY');
    t.equal(r.usedFull, 64 * MiB, 'every mapped block charged although its handle was released');
    t.equal(r.usedFreed, 0, 'cuMemUnmap of each gives it all back');
    t.equal(r.stderr, '');
  });
}

t.test('cuMemCreate on the host is not charged to the GPU budget', async (t) => {
  const r = await fillAndFree('alloc-until-oom', ['--api', 'vmm', '--host', '--block', '4m', '--max', '128m']);
  t.equal(r.fill.error, null, 'twice the budget of host memory is allowed');
  t.equal(r.fill.allocated, 128 * MiB);
  t.equal(r.usedFull, 0);
});

t.test('arrays stay within the budget when the driver cannot tell their size', async (t) => {
  // Without deferred mapping (before CUDA 11.6) the size comes from a bound on the descriptor.
  const r = await fillAndFree('alloc-until-oom', ['--api', 'array', '--block', '4m', '--width', String(width)], {
    FAKE_CUDA_NO_DEFERRED_ARRAYS: '1',
  });
  t.equal(r.fill.error, 'CUDA_ERROR_OUT_OF_MEMORY');
  t.ok(r.fill.blocks > 0);
  t.ok(r.usedFull >= r.fill.blocks * perBlock.array!, 'never charged less than the driver took');
  t.ok(r.usedFull <= budget);
  t.equal(r.usedFreed, 0);
});

t.test('processes using different families share one container budget', async (t) => {
  const state = makeStateDir(BigInt(budget));
  try {
    const env = envFor({ extra: { GPUMEM_STATE_DIR: state.dir } });
    const holder = spawn(program('alloc-until-oom'), ['--api', 'pitch', '--width', '1000', '--block', '1024000', '--max', '32m', '--hold', '20'], {
      env,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const held = await new Promise<Fill>((ok) => {
      let out = '';
      holder.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('\n')) ok(JSON.parse(out.split('\n')[0]!) as Fill);
      });
    });
    const other = runProgram('alloc-until-oom-linked', ['--api', 'vmm', '--block', '2m'], env);
    holder.kill('SIGTERM');
    t.equal(other.json?.error, 'CUDA_ERROR_OUT_OF_MEMORY');
    t.equal(other.json!.allocated, Math.floor((budget - held.allocated) / (2 * MiB)) * 2 * MiB, 'VMM got what pitch left');
  } finally {
    state.cleanup();
  }
});

t.test('with an invalid budget every family is refused', async (t) => {
  for (const api of families) {
    const r = runProgram('alloc-until-oom', ['--api', api], envFor({ extra: { GPUMEM_LIMIT: '12parsecs' } }));
    t.equal(r.json?.allocated, 0, api);
    t.equal(r.json?.error, 'CUDA_ERROR_OUT_OF_MEMORY', api);
  }
});

t.test('cuGetProcAddress hands out the family wrappers from the version each function appeared', async (t) => {
  const queries = [
    'cuMemAllocPitch:3020:0', 'cuMemAllocManaged:6000:0', 'cuMemCreate:10020:0', 'cuMemRelease:12000:0',
    'cuArrayCreate:3020:0', 'cuArray3DCreate:13000:0', 'cuArrayDestroy:2000:0',
    'cuMipmappedArrayCreate:5000:0', 'cuMipmappedArrayDestroy:5000:0', 'cuMemCreate:10010:0',
  ];
  const r = spawnSync(program('procaddress-probe'), queries, { env: envFor(), encoding: 'utf8' });
  const a = Object.fromEntries(
    (JSON.parse(r.stdout) as { query: string; rc: number; status: number; from: string; name: string }[]).map((q) => [q.query, q]),
  );
  for (const q of queries.slice(0, -1)) t.match(a[q], { rc: 0, status: 0, from: 'libgpumem.so' }, q);
  t.equal(a['cuMemAllocPitch:3020:0']!.name, 'cuMemAllocPitch_v2');
  t.equal(a['cuArray3DCreate:13000:0']!.name, 'cuArray3DCreate_v2');
  t.match(a['cuMemCreate:10010:0'], { rc: 500, status: 2, from: 'null' }, 'before CUDA 10.2 the driver answers');
});
