"""A container whose budget file vanished from the host (/run/gpumem wiped under it), on a real GPU:
in a mount namespace of its own with /run on a private tmpfs and an empty /run/gpumem/config (what
such a container sees), PyTorch, CuPy and a CUDA C program under the interposer, with a
GPUMEM_LIMIT an image could bake in, must be refused every allocation and told of no memory; the
host's view (nvidia-smi, outside the interposer) must show no more than each CUDA context.
    python3 test/gpu/wiped_config.py OUT_DIR        (root: mount namespaces)"""
import json, os, subprocess, sys
from hostview import Sampler

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
lib = os.path.join(root, "native/build/libgpumem.so")
programs = {
    "pytorch": ["python3", os.path.join(root, "test/gpu/torch_fill.py"), "256", "1"],
    "cupy": ["python3", os.path.join(root, "test/gpu/cupy_fill.py"), "256", "1"],
    "cuda c (alloc-until-oom)": [os.path.join(root, "native/build/tests/alloc-until-oom"), "--block", "256m"],
}
script = 'mount -t tmpfs gpumem-test /run && mkdir -p /run/gpumem/config && exec "$@"'
rows = []
for name, argv in programs.items():
    env = dict(os.environ, LD_PRELOAD=lib, GPUMEM_LIMIT="4g")
    with Sampler() as s:
        r = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", *argv],
                           env=env, capture_output=True, text=True, timeout=300)
    last = [l for l in r.stdout.splitlines() if l.startswith("{")]
    row = {"workload": name, "exit": r.returncode, "result": json.loads(last[-1]) if last else None,
           "stderr_gpumem": [l for l in r.stderr.splitlines() if l.startswith("gpumem:")],
           "stderr_last": r.stderr.strip().splitlines()[-1:],
           "host_proc_peak_mib": s.proc_peak, "host_device_peak_mib": s.device_peak}
    print(json.dumps(row), flush=True)
    rows.append(row)
with open(os.path.join(out, "wiped-config.jsonl"), "w") as f:
    f.write("".join(json.dumps(r) + "\n" for r in rows))
