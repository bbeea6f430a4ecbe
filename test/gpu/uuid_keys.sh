#!/bin/bash
# Budgets keyed by GPU UUID on one real GPU: a config naming the GPU's UUID (uuid.0, limit.0 2g)
# holds a PyTorch fill and the CUDA C malloc fill to 2 GiB with CUDA_VISIBLE_DEVICES unset and set
# to the UUID; a config whose uuid.0 no GPU has fails closed (nothing allocated). The host's view
# is sampled as run.sh does (test/gpu/hostview.py); the config is pointed at by GPUMEM_STATE_DIR
# (STATE/config/gpumem.conf, written by the host library's own gpumem_config_write).
#   bash test/gpu/uuid_keys.sh OUT_DIR      (one NVIDIA GPU, nvcc, PyTorch; native/build present)
# Writes one JSON line per case to OUT_DIR/uuid.jsonl and prints them.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:?usage: uuid_keys.sh OUT_DIR}
mkdir -p "$out"
[ -f native/build/libgpumem.so ] || make -s -C native
echo "building the CUDA C workloads"
nvcc -O2 -o /tmp/gpumem_family_fill test/gpu/family_fill.cu -lcuda
uuid=$(env -u LD_PRELOAD nvidia-smi --query-gpu=uuid --format=csv,noheader | head -1 | tr -d ' ')
exec python3 - "$out" "$uuid" <<'EOF'
import ctypes, json, os, sys, tempfile
sys.path.insert(0, "test/gpu")
from hostview import finish, run_under_limit  # noqa: E402

out, uuid = sys.argv[1:3]
LIMIT_MIB, BLOCK_MIB, MIB = 2048, 256, 1 << 20
MADE_UP = "GPU-0badc0de-0000-4000-8000-000000000000"
host = ctypes.CDLL(os.path.abspath("native/build/libgpumem-host.so"))


def state_dir(config_uuid):
    """A state dir whose config gives the container's GPU 0, the device with config_uuid, 2 GiB."""
    d = tempfile.mkdtemp(prefix="gpumem-uuid-")
    os.makedirs(os.path.join(d, "config"))
    per = (ctypes.c_uint64 * 64)(LIMIT_MIB * MIB)
    uuids = ctypes.create_string_buffer(96 * 64)
    uuids[0:len(config_uuid)] = config_uuid.encode()
    err = ctypes.create_string_buffer(512)
    rc = host.gpumem_config_write(os.path.join(d, "config", "gpumem.conf").encode(), ctypes.c_uint64(0), per,
                                  uuids, 64, err, 512)
    if rc != 0:
        sys.exit(f"uuid_keys: gpumem_config_write: {err.value.decode()}")
    return d


os.environ.pop("CUDA_VISIBLE_DEVICES", None)  # "unset" means unset, whatever the caller had
cap = str(2 * LIMIT_MIB + 1024)  # a fill stops there if nothing refuses it
workloads = [("PyTorch, default allocator", ["python3", "test/gpu/torch_fill.py", "256", "2", cap]),
             ("CUDA C, malloc", ["/tmp/gpumem_family_fill", "malloc", "256", "2", cap])]
cases = [("uuid.0 = the GPU, CUDA_VISIBLE_DEVICES unset", uuid, None),
         ("uuid.0 = the GPU, CUDA_VISIBLE_DEVICES=<its UUID>", uuid, uuid),
         ("uuid.0 = a UUID no GPU has", MADE_UP, None)]
rows = []
for case, config_uuid, visible in cases:
    for name, cmd in workloads:
        env = {"CUDA_VISIBLE_DEVICES": visible} if visible else {}
        [r], proc_peak, dev_peak = run_under_limit([cmd], "1g", env, state_dir=state_dir(config_uuid))
        host_mib = max(proc_peak, dev_peak)
        usable = (r.get("allocated") or 0) // MIB
        if config_uuid == MADE_UP:  # fail closed: nothing granted
            ok = usable == 0
        else:  # the config's 2 GiB, not GPUMEM_LIMIT's 1 GiB (the config wins) nor the whole GPU
            context = max(host_mib - usable, 0)
            ok = host_mib <= LIMIT_MIB and usable >= LIMIT_MIB - context - BLOCK_MIB and r.get("total") == LIMIT_MIB * MIB
        rows.append(dict(case=case, workload=name, gpu_uuid=uuid, usable_mib=usable, host_peak_mib=host_mib,
                         proc_peak_mib=proc_peak, device_peak_mib=dev_peak, total=r.get("total"),
                         error=r.get("error"), exit=r.get("exit"), stderr=r.get("stderr"), ok=ok))
        print(json.dumps(rows[-1]), flush=True)
finish(os.path.join(out, "uuid.jsonl"), rows)
EOF
