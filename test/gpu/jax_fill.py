"""Fills the GPU with JAX arrays until refused, holds at the peak; prints one JSON line."""
import json, sys, time
import jax
import jax.numpy as jnp

block = int(float(sys.argv[1]) if len(sys.argv) > 1 else 256) << 20
hold = float(sys.argv[2]) if len(sys.argv) > 2 else 3
cap = int(float(sys.argv[3]) if len(sys.argv) > 3 else 32768) << 20  # stop there if nothing refuses
dev = jax.devices()[0]
arrays, err = [], None
try:
    while (len(arrays) + 1) * block <= cap:
        a = jnp.ones((block // 4,), dtype=jnp.float32)
        a.block_until_ready()
        arrays.append(a)
except Exception as e:  # XlaRuntimeError RESOURCE_EXHAUSTED is JAX's out-of-memory
    err = type(e).__name__ + ": " + str(e).splitlines()[0][:160]
stats = dev.memory_stats() or {}
time.sleep(hold)
print(json.dumps({"workload": "jax arrays", "allocated": len(arrays) * block, "error": err,
                  "total": stats.get("bytes_limit"), "pool_reserved": stats.get("pool_bytes")}), flush=True)
