"""Fills the GPU with CuPy arrays (default memory pool) until refused; prints one JSON line, then holds."""
import json, sys, time
import cupy

block = int(float(sys.argv[1]) if len(sys.argv) > 1 else 256) << 20
hold = float(sys.argv[2]) if len(sys.argv) > 2 else 4
free0, total = cupy.cuda.runtime.memGetInfo()
blocks, err = [], None
try:
    while True:
        blocks.append(cupy.empty(block, dtype=cupy.uint8))
except cupy.cuda.memory.OutOfMemoryError as e:
    err = "cupy OutOfMemoryError: " + str(e)[:160]
print(json.dumps({"workload": "cupy arrays", "allocated": len(blocks) * block, "error": err, "total": total,
                  "free_before": free0}), flush=True)
time.sleep(hold)
