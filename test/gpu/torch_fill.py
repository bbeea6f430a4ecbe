"""Fills the GPU with PyTorch tensors until refused, holds at the peak, checks it still computes; prints one JSON line."""
import json, sys, time
import torch

block = int(float(sys.argv[1]) if len(sys.argv) > 1 else 256) << 20
hold = float(sys.argv[2]) if len(sys.argv) > 2 else 4
stop = int(float(sys.argv[3])) << 20 if len(sys.argv) > 3 else None  # MiB: stop there instead of at the error
free0, total = torch.cuda.mem_get_info()
blocks, err = [], None
try:
    while stop is None or len(blocks) * block < stop:
        blocks.append(torch.empty(block, dtype=torch.uint8, device="cuda"))
except torch.OutOfMemoryError as e:
    err = "torch.OutOfMemoryError: " + str(e).splitlines()[0][:160]
allocated = len(blocks) * block
free1, _ = torch.cuda.mem_get_info()
time.sleep(hold)  # at the peak, so the host's view is sampled there
# After the clean error the process goes on: free half, hand the cache back (cuBLAS allocates
# outside PyTorch's cache, as on a full real GPU), and compute.
del blocks[: len(blocks) // 2]
torch.cuda.empty_cache()
x = torch.ones(1024, 1024, device="cuda")
ok = float((x @ x).sum().item()) == 1024.0 ** 3
print(json.dumps({"workload": "pytorch tensors", "allocated": allocated, "error": err, "total": total,
                  "free_before": free0, "free_after": free1, "works_after_oom": ok}), flush=True)
