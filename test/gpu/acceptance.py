"""GPU acceptance suite: every framework and CUDA API family filled under gpumem limits, with the
host's view checked against the limit. Run from the repo root: bash test/gpu/run.sh [OUT_DIR]."""
import json, os, sys, tempfile, time
from datetime import date

sys.path.insert(0, os.path.dirname(__file__))
from hostview import run_under_limit  # noqa: E402

OUT = sys.argv[1] if len(sys.argv) > 1 else "."
LIMITS = (sys.argv[2] if len(sys.argv) > 2 else "4g,16g").split(",")
BLOCK_MIB = 256
FILL = "/tmp/gpumem_family_fill"
py = lambda *a: ["python3", *a]  # noqa: E731

ONLY = os.environ.get("GPUMEM_SUITE_ONLY")  # "a|b": run just the workloads whose names contain a or b


def workloads(cap):
    """(name, command, env); every fill stops at cap MiB if nothing refuses it first."""
    c = str(cap)
    torch = py("test/gpu/torch_fill.py", "256", "2", c)
    w = [
        ("PyTorch, default allocator", torch, {}),
        ("PyTorch, expandable_segments:True", torch, {"PYTORCH_CUDA_ALLOC_CONF": "expandable_segments:True"}),
        ("PyTorch, backend:cudaMallocAsync", torch, {"PYTORCH_CUDA_ALLOC_CONF": "backend:cudaMallocAsync"}),
        ("CuPy, default pool", py("test/gpu/cupy_fill.py", "256", "2", "default", c), {}),
        ("CuPy, MemoryAsyncPool", py("test/gpu/cupy_fill.py", "256", "2", "async", c), {}),
        ("JAX, default preallocation (75 %)", py("test/gpu/jax_fill.py", "256", "2", c), {}),
        ("JAX, XLA_PYTHON_CLIENT_PREALLOCATE=false", py("test/gpu/jax_fill.py", "256", "2", c),
         {"XLA_PYTHON_CLIENT_PREALLOCATE": "false"}),
    ] + [(f"CUDA C, {api}", [FILL, api, "256", "2", c], {})
         for api in ("malloc", "pitch", "array3d", "mipmapped", "async", "pool", "vmm", "vmm-released", "graph", "managed")] + [
        ("driver API via cuGetProcAddress",
         ["native/build/tests/alloc-until-oom", "--block", "256m", "--hold", "2", "--max", f"{cap}m"], {}),
        ("driver API linked -lcuda",
         ["native/build/tests/alloc-until-oom-linked", "--block", "256m", "--hold", "2", "--max", f"{cap}m"], {}),
    ]
    return [x for x in w if not ONLY or any(o in x[0] for o in ONLY.split("|"))]


MIB = 1 << 20


def size_mib(limit):
    return int(limit[:-1]) * (1024 if limit.endswith("g") else 1)


def verdict(limit_mib, usable_mib, host_mib, expect_fraction=1.0):
    context = max(host_mib - usable_mib, 0)
    want = expect_fraction * limit_mib - context - BLOCK_MIB
    ok = host_mib <= limit_mib and usable_mib >= want
    return ok, context


rows = []
for limit in LIMITS:
    lm = size_mib(limit)
    for name, cmd, env in workloads(2 * lm + 1024):
        t0 = time.time()
        [r], proc_peak, dev_peak = run_under_limit([cmd], limit, env)
        host = max(proc_peak, dev_peak)
        usable = (r.get("allocated") or 0) // MIB
        # JAX takes 75 % of the total it is shown (XLA_PYTHON_CLIENT_MEM_FRACTION), by design.
        frac = 0.75 if name.startswith("JAX") else 1.0
        ok, ctx = verdict(lm, usable, host, frac)
        rows.append(dict(limit=limit, workload=name, usable_mib=usable, host_peak_mib=host, proc_peak_mib=proc_peak,
                         device_peak_mib=dev_peak, error=r.get("error"), total=r.get("total"), context_mib=ctx,
                         ok=ok, exit=r.get("exit"), stderr=r.get("stderr"), seconds=round(time.time() - t0, 1)))
        print(json.dumps(rows[-1]), flush=True)
    if ONLY and "two" not in ONLY:
        continue
    # Two processes, one budget: the first holds half, the second fills what is left.
    state = tempfile.mkdtemp(prefix="gpumem-share-")
    half = str(lm // 2)
    rs, proc_peak, dev_peak = run_under_limit(
        [py("test/gpu/torch_fill.py", "256", "8", half), py("test/gpu/torch_fill.py", "256", "2", str(2 * lm))],
        limit, state_dir=state, stagger_s=4)
    host = max(proc_peak, dev_peak)
    usable = sum((r.get("allocated") or 0) for r in rs) // MIB
    ok, ctx = verdict(lm, usable, host)
    rows.append(dict(limit=limit, workload="two PyTorch processes, one budget", usable_mib=usable, host_peak_mib=host,
                     proc_peak_mib=proc_peak, device_peak_mib=dev_peak,
                     error=" / ".join(str(r.get("error")) for r in rs), total=rs[0].get("total"), context_mib=ctx,
                     ok=ok, exit=[r.get("exit") for r in rs], stderr=[r.get("stderr") for r in rs]))
    print(json.dumps(rows[-1]), flush=True)

with open(os.path.join(OUT, "gpu-results.jsonl"), "w") as f:
    for r in rows:
        f.write(json.dumps(r) + "\n")
with open(os.path.join(OUT, "gpu-results.md"), "w") as f:
    gpu = os.popen("nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader").read().strip()
    f.write(f"Run {date.today()} on {gpu}.\n\n")
    f.write("| limit | workload | usable MiB | host peak MiB | context MiB | error it got | pass |\n")
    f.write("| --- | --- | ---: | ---: | ---: | --- | --- |\n")
    for r in rows:
        err = (str(r["error"]) or "").replace("|", "/")[:90]
        f.write(f"| {r['limit']} | {r['workload']} | {r['usable_mib']:,} | {r['host_peak_mib']:,} | {r['context_mib']:,} "
                f"| {err} | {'yes' if r['ok'] else '**no**'} |\n")
    f.write(f"\n{sum(r['ok'] for r in rows)} of {len(rows)} pass (host peak ≤ limit, usable ≥ limit − context − one "
            f"{BLOCK_MIB} MiB block; JAX takes 75 % of the total by design and is judged on that).\n")
print(f"{sum(r['ok'] for r in rows)} passed, {sum(not r['ok'] for r in rows)} failed")
sys.exit(0 if all(r["ok"] for r in rows) else 1)
