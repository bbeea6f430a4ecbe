#!/bin/bash
# The host inventory and the kernel-limit probe against a real driver: gpumem's NVML view (UUID,
# memory, minor, MIG, driver version) beside nvidia-smi's own, and what setMemoryLimit answers on
# this driver (before R615: "unavailable"). Runs the installed gpumem (carry.sh unpack's prefix,
# which has its node_modules); node from carry.sh.
#   bash test/gpu/inventory_check.sh OUT_DIR
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:?usage: inventory_check.sh OUT_DIR}
mkdir -p "$out"
node=${NODE:-/tmp/n/node}
app=${GPUMEM_PREFIX:-/tmp/gpumem-prefix}/lib/gpumem
env -u LD_PRELOAD nvidia-smi --query-gpu=index,uuid,memory.total,driver_version,mig.mode.current --format=csv,noheader >"$out/nvidia-smi.csv"
env -u LD_PRELOAD nvidia-smi -q | grep -i 'minor number' >"$out/nvidia-smi-minor.txt" || true
"$node" --input-type=module -e "
import { gpuInventory, setMemoryLimit } from '$app/dist/lib/ffi/native.js';
const inv = gpuInventory();
let limit;
try { limit = setMemoryLimit(inv.gpus[0].uuid, '/sys/fs/cgroup', 1n << 30n); } catch (e) { limit = 'error: ' + e.message; }
console.log(JSON.stringify({ ...inv, setMemoryLimit: limit }));
" | tee "$out/inventory.json"
cat "$out/nvidia-smi.csv" "$out/nvidia-smi-minor.txt"
