"""A small PyTorch training loop; prints its throughput in steps per second as one JSON line.

usage: train_loop.py [STEPS]"""
import json, sys, time
import torch

steps = int(sys.argv[1]) if len(sys.argv) > 1 else 600
torch.manual_seed(0)
layers = []
for _ in range(20):
    layers += [torch.nn.Linear(1024, 1024), torch.nn.ReLU()]
model = torch.nn.Sequential(*layers).cuda()
opt = torch.optim.SGD(model.parameters(), lr=1e-3)
x = torch.randn(256, 1024, device="cuda")
y = torch.randn(256, 1024, device="cuda")


def step():
    opt.zero_grad(set_to_none=True)  # gradients freed and reallocated every step: the allocator is exercised
    loss = torch.nn.functional.mse_loss(model(x), y)
    loss.backward()
    opt.step()


for _ in range(50):
    step()
torch.cuda.synchronize()
t0 = time.perf_counter()
for _ in range(steps):
    step()
torch.cuda.synchronize()
print(json.dumps({"steps": steps, "steps_per_s": steps / (time.perf_counter() - t0)}), flush=True)
