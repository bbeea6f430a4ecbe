"""The loop every real workload shares: double the batch from START until the framework's own
out-of-memory error or CAP, hold at the peak, print one JSON line on stdout.

usage of each workload: NAME.py [START [CAP [HOLD_S]]]"""
import json, os, sys, time, traceback

OUT = sys.stdout
sys.stdout = sys.stderr  # library chatter (warnings, progress) must not get in the way of the result line
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # models are built from configs; never reach for the hub


def args(start, cap):
    a = sys.argv[1:]
    return (int(a[0]) if a else start, int(a[1]) if len(a) > 1 else cap, float(a[2]) if len(a) > 2 else 2.0)


def describe(e):
    cls = type(e)
    mod = "" if cls.__module__ == "builtins" else cls.__module__ + "."
    return f"{mod}{cls.__qualname__}: " + (str(e).strip().splitlines() or [""])[0][:200]


def says(e, *needles):
    text = str(e)
    return any(n in text for n in needles)


def run(name, setup, step, is_oom, start, cap, hold):
    """setup(res) builds the model and fills res (total, free_at_start, ...); step(n) runs one round at
    batch n and returns the framework's own peak MiB for it (or None)."""
    res = {"workload": name, "largest_ok": None, "refused_at": None, "error": None, "total": None,
           "free_at_start": None, "pid": os.getpid(), "capped": False, "rounds": []}
    n = None
    try:
        setup(res)
        n = start
        while n <= cap:
            mib = step(n)
            res["largest_ok"] = n
            res["rounds"].append([n, mib])
            print(f"{name}: {n} ok ({mib} MiB)", file=sys.stderr, flush=True)  # how far a timed-out run got
            n *= 2
        res["capped"] = True
    except Exception as e:  # noqa: BLE001 - sorted below: only the framework's OOM is a refusal
        res["error"] = describe(e)
        if not is_oom(e):
            traceback.print_exc()
            print(json.dumps(res), file=OUT, flush=True)
            sys.exit(1)
        res["refused_at"] = n if n is not None else "setup"
    time.sleep(hold)  # at the peak (the caching allocators keep it), so the host's 0.2 s sampler sees it
    if "torch" in sys.modules:  # what the process is told at the peak: under gpumem, the budget's view
        try:
            res["free_at_end"], _ = sys.modules["torch"].cuda.mem_get_info()
        except Exception:  # noqa: BLE001
            pass
    print(json.dumps(res), file=OUT, flush=True)
