// Whether the host sees a container hold more than its region says: NVML's figures for its
// processes, placed on its GPUs, against the region's, beyond what legitimately lags.
import t from 'tap';
import { containerGpuOf } from '../../lib/truth/gpu-map.js';
import { TAMPER_TOLERANCE, findings, truthFor } from '../../lib/truth/judge.js';

const MiB = 2 ** 20;
const host = [0, 1, 2].map((index) => ({ index, uuid: `GPU-${index}`, totalBytes: 80 * 1024 * MiB }));
const procs = [
  { gpu: 2, pid: 10, used: 300 * MiB },
  { gpu: 2, pid: 11, used: 276 * MiB },
  { gpu: 0, pid: 12, used: 100 * MiB },
  { gpu: 1, pid: 99, used: 4096 * MiB }, // another tenant
];
const mine = (pid: number) => pid >= 10 && pid < 20;

t.test("NVML's figures are summed per container GPU, the container's numbering, others' processes left out", async (t) => {
  const gpuOf = containerGpuOf('2,0', host);
  t.same(gpuOf, new Map([[2, 0], [0, 1]]));
  t.same(truthFor(procs, mine, gpuOf, new Set()), { perGpu: new Map([[0, 576 * MiB], [1, 100 * MiB]]) });
  t.same(truthFor(procs, mine, containerGpuOf('GPU-2', host), new Set()), { total: 676 * MiB },
    'a process on a GPU the container was not given: only the sum can be judged');
  t.same(truthFor(procs, mine, containerGpuOf(null, host), new Set()), { total: 676 * MiB }, 'no NVIDIA_VISIBLE_DEVICES (CDI): the sum');
  t.same(truthFor(procs, mine, containerGpuOf('all', host), new Set([0])), { perGpu: new Map([[0, null], [1, 0], [2, 576 * MiB]]) },
    'a GPU whose processes NVML could not list is unknown, not empty');
  t.same(truthFor([{ gpu: 0, pid: 10, used: null }], mine, containerGpuOf('0', host), new Set()), { perGpu: new Map([[0, null]]) });
});

t.test('576 MiB held under a region that says 64 MiB is tampering; what lags legitimately is not', async (t) => {
  const truth = { perGpu: new Map([[0, 576 * MiB], [1, 100 * MiB]]) };
  t.same(findings(new Map([[0, 64 * MiB], [1, 100 * MiB]]), truth), [{ gpu: 0, region: 64 * MiB, host: 576 * MiB }]);
  t.same(findings(new Map([[0, 576 * MiB - TAMPER_TOLERANCE], [1, 90 * MiB]]), truth), [], 'up to the tolerance is lag, not a lie');
  t.same(findings(new Map([[0, 1024 * MiB], [1, 100 * MiB]]), truth), [], 'a region above NVML (allocations lead it) is fine');
  t.same(findings(new Map(), { perGpu: new Map([[0, null]]) }), [], 'an unknown figure proves nothing');
  t.same(findings(new Map([[0, 620 * MiB], [1, 0]]), { total: 676 * MiB }), [], 'the sum, when GPUs cannot be told apart');
  t.same(findings(new Map([[0, 64 * MiB]]), { total: 676 * MiB }), [{ gpu: null, region: 64 * MiB, host: 676 * MiB }]);
});
