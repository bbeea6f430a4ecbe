"""Two pre-LayerNorm MLP blocks compiled by torch.compile (inductor: fused Triton kernels for the
layernorm and gelu(x@w1)*scale, forward and backward), batches of 256-token sequences doubling;
dynamic=False, so every batch is a fresh compile and a fresh set of kernels loaded."""
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
import torch  # noqa: E402
import torch._dynamo  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

start, cap, hold = common.args(32, 2048)
STEPS = int(sys.argv[4]) if len(sys.argv) > 4 else 2
SEQ, D, H = 256, 1024, 4096
S = {}


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln, self.w1, self.w2 = nn.LayerNorm(D), nn.Linear(D, H), nn.Linear(H, D)
        self.scale = nn.Parameter(torch.ones(H))

    def forward(self, x):
        return x + self.w2(F.gelu(self.w1(self.ln(x))) * self.scale)


def setup(res):
    res["free_at_start"], res["total"] = torch.cuda.mem_get_info()
    for k in ("recompile_limit", "cache_size_limit"):  # renamed across releases; one recompile per batch
        if hasattr(torch._dynamo.config, k):
            setattr(torch._dynamo.config, k, 64)
    S["model"] = nn.Sequential(Block(), Block()).cuda()
    S["fn"] = torch.compile(S["model"], dynamic=False)


def step(n):
    torch.cuda.reset_peak_memory_stats()
    x = torch.randn(n, SEQ, D, device="cuda")
    for _ in range(STEPS):
        S["model"].zero_grad(set_to_none=True)
        S["fn"](x).square().mean().backward()
    torch.cuda.synchronize()
    return torch.cuda.max_memory_reserved() >> 20


def is_oom(e):  # inductor may wrap the allocator's error raised while benchmarking kernels
    return isinstance(e, torch.OutOfMemoryError) or common.says(e, "out of memory", "OutOfMemoryError", "ALLOC_FAILED")


common.run("compiled", setup, step, is_oom, start, cap, hold)
