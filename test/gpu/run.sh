#!/bin/bash
# The GPU acceptance suite, one command on any machine with an NVIDIA GPU, nvcc, PyTorch, CuPy and JAX:
#   bash test/gpu/run.sh [OUT_DIR] [LIMITS]      (default: current dir, 4g,16g)
# Writes gpu-results.md (a table for docs/gpu-results.md) and gpu-results.jsonl to OUT_DIR.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-.}
mkdir -p "$out"
[ -f native/build/libgpumem.so ] || make -s -C native
echo "building the CUDA C workloads"
nvcc -O2 -o /tmp/gpumem_family_fill test/gpu/family_fill.cu -lcuda
python3 test/gpu/acceptance.py "$out" "${2:-4g,16g}"
