#!/bin/bash
# Each process's slot as gpumem inspect reads it (gpumem_accounting_processes), beside what the
# host sees each process hold (nvidia-smi --query-compute-apps without LD_PRELOAD), on one real GPU:
# two PyTorch processes of one 4 GiB budget hold 512 MiB and 1 GiB (after a matmul, so that their
# kernels are loaded), a CUDA C process holds 256 MiB. A case is ok when every process has one
# slot, under its host pid, and its slot is within 64 MiB of the host's figure for it.
#   bash test/gpu/slots.sh OUT_DIR      (one NVIDIA GPU, nvcc, PyTorch; native/build present)
# Writes OUT_DIR/slots.jsonl and prints it.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:?usage: slots.sh OUT_DIR}
mkdir -p "$out"
[ -f native/build/libgpumem.so ] || make -s -C native
nvcc -O2 -o /tmp/gpumem_family_fill test/gpu/family_fill.cu -lcuda
exec python3 - "$out" <<'EOF2'
import json, os, shutil, subprocess, sys, time
sys.path.insert(0, "test/gpu")
from hostview import _smi, finish  # noqa: E402
from host_region import MIB, processes, report, state_dir  # noqa: E402

out = sys.argv[1]
d = state_dir(4096, prefix="gpumem-slots-")
env = dict(os.environ, LD_PRELOAD=os.path.abspath("native/build/libgpumem.so"), GPUMEM_STATE_DIR=d)
env.pop("CUDA_VISIBLE_DEVICES", None)
HOLD = """
import sys, time, torch
x = torch.empty(int(sys.argv[1]) << 20, dtype=torch.uint8, device="cuda")
a = torch.randn(256, 256, device="cuda"); (a @ a).sum().item()
print("ready", flush=True); time.sleep(30)
"""
procs = [subprocess.Popen(["python3", "-c", HOLD, str(m)], env=env, stdout=subprocess.PIPE, text=True) for m in (512, 1024)]
for p in procs:
    assert p.stdout.readline().strip() == "ready", "a PyTorch holder did not start"
# The CUDA C family fill: 256 MiB blocks up to a 256 MiB cap, held 30 s at its peak (it prints after).
c = subprocess.Popen(["/tmp/gpumem_family_fill", "malloc", "256", "30", "256"], env=env, stdout=subprocess.PIPE, text=True)
time.sleep(6)  # the interposer reconciles driver-taken memory from NVML every few seconds
slots = {s["pid"]: s for s in processes(d)}
host = {int(pid): int(mib) for pid, mib in _smi("compute-apps", "pid,used_memory")}
rows = []
for name, p in [("PyTorch 512 MiB", procs[0]), ("PyTorch 1 GiB", procs[1]), ("CUDA C 256 MiB", c)]:
    s = slots.get(p.pid)
    slot_mib = round(s["used"] / MIB, 1) if s else None
    host_mib = host.get(p.pid)
    ok = s is not None and host_mib is not None and abs(slot_mib - host_mib) <= 64
    rows.append(dict(process=name, pid=p.pid, slot_mib=slot_mib, slot_driver_mib=round(s["driver"] / MIB, 1) if s else None,
                     driver_unseen=s["unseen"] if s else None, host_mib=host_mib, ok=ok))
    print(json.dumps(rows[-1]), flush=True)
g = report(d)
total = dict(process="all (region total)", slots=len(slots), region_used_mib=round(g["used"] / MIB, 1),
             host_sum_mib=sum(host.get(p.pid, 0) for p in procs + [c]), ok=len(slots) == 3)
rows.append(total)
print(json.dumps(total), flush=True)
for p in procs + [c]:
    p.kill()
    p.wait()
shutil.rmtree(d, ignore_errors=True)
finish(os.path.join(out, "slots.jsonl"), rows)
EOF2
