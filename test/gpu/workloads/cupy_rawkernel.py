"""A CuPy RawKernel (CUDA C compiled by NVRTC at run time, loaded as a module) applied to arrays that
double each round from 64 MiB; every round's output stays alive, so memory grows."""
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
import cupy as cp  # noqa: E402

start, cap, hold = common.args(64, 16384)  # MiB of one round's output
SRC = r"""
extern "C" __global__ void axpb(const float *x, float *y, float a, float b, unsigned long long n) {
  for (unsigned long long i = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x; i < n;
       i += (unsigned long long)gridDim.x * blockDim.x)
    y[i] = a * x[i] + b;
}"""
S, keep = {}, []


def setup(res):
    res["free_at_start"], res["total"] = cp.cuda.runtime.memGetInfo()
    S["k"] = cp.RawKernel(SRC, "axpb")
    S["k"].compile()  # NVRTC and the module load now, not inside the first round


def step(mib):
    n = (mib << 20) // 4
    x = cp.ones(n, dtype=cp.float32)
    y = cp.empty_like(x)
    S["k"]((4096,), (256,), (x, y, cp.float32(2), cp.float32(1), cp.uint64(n)))
    cp.cuda.Device().synchronize()
    if float(y[-1]) != 3.0:
        raise AssertionError(f"kernel wrote {float(y[-1])}, not 3.0")
    keep.append(y)
    return cp.get_default_memory_pool().total_bytes() >> 20


def is_oom(e):  # a module load or launch refused for memory surfaces as a driver/runtime error
    return isinstance(e, cp.cuda.memory.OutOfMemoryError) or common.says(e, "OUT_OF_MEMORY", "cudaErrorMemoryAllocation")


common.run("cupy_rawkernel", setup, step, is_oom, start, cap, hold)
