#!/bin/bash
# The GPU acceptance suite, one command on any machine with an NVIDIA GPU, nvcc, PyTorch, CuPy and JAX:
#   bash test/gpu/run.sh [OUT_DIR] [LIMITS]      (default: current dir, 4g,16g)
# Writes gpu-results.md (a table for docs/gpu-results.md) and gpu-results.jsonl to OUT_DIR.
#   bash test/gpu/run.sh OUT_DIR LIMITS real [MODES]
# runs the real framework workloads instead (test/gpu/real_workloads.py: natively, under gpumem and
# under NVIDIA MPS; MODES a subset of native,gpumem,mps) and writes real-workloads.md and .jsonl.
#   bash test/gpu/run.sh OUT_DIR LIMIT container
# runs the container path without Docker (test/gpu/container_path.sh: gpumem-runtime + runc, a
# main process and a `runc exec` one on one budget); needs root, runc and an installed gpumem.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-.}
mkdir -p "$out"
[ -f native/build/libgpumem.so ] || make -s -C native
if [ "${3:-}" = container ]; then
  exec bash test/gpu/container_path.sh "$out" "${2:-4g}"
fi
if [ "${3:-}" = real ]; then
  echo "building the CUDA C real workloads"
  nvcc -O2 -arch=sm_90 -o /tmp/gpumem_spill test/gpu/workloads/spill.cu
  nvcc -O2 -arch=sm_90 -o /tmp/gpumem_stack_limit test/gpu/workloads/stack_limit.cu
  exec python3 test/gpu/real_workloads.py "$out" "${2:-4g,16g}" "${4:-native,gpumem,mps}"
fi
echo "building the CUDA C workloads"
nvcc -O2 -o /tmp/gpumem_family_fill test/gpu/family_fill.cu -lcuda
python3 test/gpu/acceptance.py "$out" "${2:-4g,16g}"
