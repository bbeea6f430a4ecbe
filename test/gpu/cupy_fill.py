"""Fills the GPU with CuPy arrays until refused, holds at the peak; prints one JSON line.

usage: cupy_fill.py [BLOCK_MIB [HOLD_S [default|async [CAP_MIB]]]]"""
import json, sys, time
import cupy

block = int(float(sys.argv[1]) if len(sys.argv) > 1 else 256) << 20
hold = float(sys.argv[2]) if len(sys.argv) > 2 else 4
pool = sys.argv[3] if len(sys.argv) > 3 else "default"
cap = int(float(sys.argv[4]) if len(sys.argv) > 4 else 32768) << 20  # stop there if nothing refuses
if pool == "async":  # stream-ordered: cudaMallocAsync under the hood
    cupy.cuda.set_allocator(cupy.cuda.MemoryAsyncPool().malloc)
free0, total = cupy.cuda.runtime.memGetInfo()
blocks, err = [], None
try:
    while (len(blocks) + 1) * block <= cap:
        blocks.append(cupy.empty(block, dtype=cupy.uint8))
except (cupy.cuda.memory.OutOfMemoryError, cupy.cuda.runtime.CUDARuntimeError) as e:
    err = type(e).__name__ + ": " + str(e)[:160]
time.sleep(hold)
print(json.dumps({"workload": f"cupy arrays ({pool} pool)", "allocated": len(blocks) * block, "error": err,
                  "total": total, "free_before": free0}), flush=True)
