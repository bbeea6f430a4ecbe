#!/bin/bash
# The accounting region's peak and refusal count on one real GPU: a PyTorch fill and the CUDA C
# malloc fill, each in a fresh state dir whose config (written by the host library's own
# gpumem_config_write, the region made by gpumem_accounting_create, as the host does) gives 2 GiB.
# Afterwards the region is read with the host library (gpumem_accounting_report, ctypes) and its
# peak and refused count of GPU 0 are printed beside the host's NVML peak (test/gpu/hostview.py).
# A case is ok when peak <= the budget, peak >= what the fill allocated, and refused >= 1.
#   bash test/gpu/peak_refused.sh OUT_DIR      (one NVIDIA GPU, nvcc, PyTorch; native/build present)
# Writes one JSON line per case to OUT_DIR/peak.jsonl and prints them.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:?usage: peak_refused.sh OUT_DIR}
mkdir -p "$out"
[ -f native/build/libgpumem.so ] || make -s -C native
echo "building the CUDA C workloads"
nvcc -O2 -o /tmp/gpumem_family_fill test/gpu/family_fill.cu -lcuda
exec python3 - "$out" <<'EOF'
import json, os, shutil, sys
sys.path.insert(0, "test/gpu")
from hostview import finish, run_under_limit  # noqa: E402
from host_region import MIB, report, state_dir  # noqa: E402

out = sys.argv[1]
LIMIT_MIB = 2048


def region(d):
    """GPU 0's used, peak and refused as the host reads them (after the fill's processes exited)."""
    return report(d)


os.environ.pop("CUDA_VISIBLE_DEVICES", None)
cap = str(2 * LIMIT_MIB + 1024)  # a fill stops there if nothing refuses it
workloads = [("PyTorch, default allocator", ["python3", "test/gpu/torch_fill.py", "256", "2", cap]),
             ("CUDA C, malloc", ["/tmp/gpumem_family_fill", "malloc", "256", "2", cap])]
rows = []
for name, cmd in workloads:
    d = state_dir(LIMIT_MIB, prefix="gpumem-peak-")
    [r], proc_peak, dev_peak = run_under_limit([cmd], f"{LIMIT_MIB}m", state_dir=d)
    g = region(d)
    allocated = r.get("allocated") or 0
    ok = g["peak"] <= LIMIT_MIB * MIB and g["peak"] >= allocated and g["refused"] >= 1
    rows.append(dict(workload=name, budget_mib=LIMIT_MIB, allocated_mib=allocated // MIB,
                     region_peak_mib=round(g["peak"] / MIB, 1), region_refused=g["refused"],
                     region_used_after=g["used"], live_after=g["live"],
                     host_peak_mib=max(proc_peak, dev_peak), proc_peak_mib=proc_peak, device_peak_mib=dev_peak,
                     error=r.get("error"), exit=r.get("exit"), stderr=r.get("stderr"), ok=ok))
    print(json.dumps(rows[-1]), flush=True)
    shutil.rmtree(d, ignore_errors=True)
finish(os.path.join(out, "peak.jsonl"), rows)
EOF
