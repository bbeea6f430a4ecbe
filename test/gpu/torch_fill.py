"""Fills the GPU with PyTorch tensors until refused; prints one JSON line, then holds."""
import json, sys, time
import torch

block = int(float(sys.argv[1]) if len(sys.argv) > 1 else 256) << 20
hold = float(sys.argv[2]) if len(sys.argv) > 2 else 4
free0, total = torch.cuda.mem_get_info()
blocks, err = [], None
try:
    while True:
        blocks.append(torch.empty(block, dtype=torch.uint8, device="cuda"))
except torch.OutOfMemoryError as e:
    err = "torch.OutOfMemoryError: " + str(e).splitlines()[0][:160]
allocated = len(blocks) * block
free1, _ = torch.cuda.mem_get_info()
# After the clean error the process goes on: free half and compute.
del blocks[: len(blocks) // 2]
x = torch.ones(1024, 1024, device="cuda")
ok = float((x @ x).sum().item()) == 1024.0 ** 3
print(json.dumps({"workload": "pytorch tensors", "allocated": allocated, "error": err, "total": total,
                  "free_before": free0, "free_after": free1, "works_after_oom": ok}), flush=True)
time.sleep(hold)
