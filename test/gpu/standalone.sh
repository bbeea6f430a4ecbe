#!/bin/bash
# Standalone acceptance on a real GPU: each workload under LD_PRELOAD=libgpumem.so GPUMEM_LIMIT=<limit>,
# the host's view sampled with nvidia-smi (no LD_PRELOAD). Run from the repo root after `make -C native`.
#   test/gpu/standalone.sh [LIMIT...]     (default 4g)
set -u
cd "$(dirname "$0")/../.."
limits=("${@:-4g}")
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
nvcc -o /tmp/gpumem_cuda_fill test/gpu/cuda_fill.cu || exit 1
python3 -c 'import torch; f,t=torch.cuda.mem_get_info(); print("native torch.cuda.mem_get_info total", t)'
for L in "${limits[@]}"; do
  python3 test/gpu/host_view.py "$L" -- /tmp/gpumem_cuda_fill 256 4
  python3 test/gpu/host_view.py "$L" -- native/build/tests/alloc-until-oom --block 256m --hold 4
  python3 test/gpu/host_view.py "$L" -- native/build/tests/alloc-until-oom-linked --block 256m --hold 4
  python3 test/gpu/host_view.py "$L" -- python3 test/gpu/torch_fill.py 256 4
  python3 test/gpu/host_view.py "$L" -- python3 test/gpu/cupy_fill.py 256 4
done
