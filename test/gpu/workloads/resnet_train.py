"""ResNet-50 (timm, random weights) trained a few SGD steps per batch on random 224x224 images, with
cuDNN benchmarking on (it loads and tries many kernels, and sizes workspaces per shape)."""
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import timm  # noqa: E402

start, cap, hold = common.args(16, 512)
STEPS = int(sys.argv[4]) if len(sys.argv) > 4 else 2
S = {}


def setup(res):
    res["free_at_start"], res["total"] = torch.cuda.mem_get_info()
    torch.backends.cudnn.benchmark = True
    S["model"] = timm.create_model("resnet50", pretrained=False).cuda().train()
    S["opt"] = torch.optim.SGD(S["model"].parameters(), lr=0.01, momentum=0.9)


def step(n):
    torch.cuda.reset_peak_memory_stats()
    x = torch.randn(n, 3, 224, 224, device="cuda")
    y = torch.randint(0, 1000, (n,), device="cuda")
    for _ in range(STEPS):
        S["opt"].zero_grad(set_to_none=True)
        F.cross_entropy(S["model"](x), y).backward()
        S["opt"].step()
    torch.cuda.synchronize()
    return torch.cuda.max_memory_reserved() >> 20


def is_oom(e):  # cuDNN and cuBLAS report their own failed allocations as RuntimeErrors
    return isinstance(e, torch.OutOfMemoryError) or (
        isinstance(e, RuntimeError) and common.says(e, "out of memory", "ALLOC_FAILED"))


common.run("resnet_train", setup, step, is_oom, start, cap, hold)
