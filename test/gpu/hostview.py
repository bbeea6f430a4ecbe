"""Runs workloads under the interposer while sampling the host's view of the GPU, from outside the
interposer: per-process memory (nvidia-smi --query-compute-apps) and the device's used memory
(nvidia-smi --query-gpu, which also sees managed memory the per-process figure leaves out)."""
import json, os, subprocess, threading, time

NVSMI_ENV = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "GPUMEM_LIMIT", "GPUMEM_STATE_DIR")}


def _smi(query, what):
    out = subprocess.run(["nvidia-smi", f"--query-{query}={what}", "--format=csv,noheader,nounits"],
                         capture_output=True, text=True, env=NVSMI_ENV).stdout
    return [[c.strip() for c in line.split(",")] for line in out.strip().splitlines() if line.strip()]


def device_used_mib():
    return int(_smi("gpu", "memory.used")[0][0])


def processes_mib():
    return sum(int(mib) for _, mib in _smi("compute-apps", "pid,used_memory"))


class Sampler:
    """Peak of the container's processes and of the device's used memory above its idle level."""

    def __init__(self):
        self.idle = device_used_mib()
        self.proc_peak = 0
        self.device_peak = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.proc_peak = max(self.proc_peak, processes_mib())
            self.device_peak = max(self.device_peak, device_used_mib() - self.idle)
            time.sleep(0.2)

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()

    @property
    def peak_mib(self):
        return max(self.proc_peak, self.device_peak)


def run_under_limit(cmds, limit, env_extra=None, state_dir=None, stagger_s=0):
    """Starts each command (a list) under one budget; returns their JSON lines and the host peak."""
    env = dict(os.environ, LD_PRELOAD=os.path.abspath("native/build/libgpumem.so"), GPUMEM_LIMIT=limit,
               **(env_extra or {}))
    if state_dir:
        env["GPUMEM_STATE_DIR"] = state_dir
    with Sampler() as s:
        procs = []
        for c in cmds:
            procs.append(subprocess.Popen(c, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
            time.sleep(stagger_s)
        outs = [p.communicate() for p in procs]
    results = []
    for p, (out, err) in zip(procs, outs):
        try:
            r = json.loads(out.strip().splitlines()[-1])
        except (ValueError, IndexError):
            r = {"error": "no result", "stderr": err.strip()[-400:]}
        r["exit"] = p.returncode
        results.append(r)
    return results, s.proc_peak, s.device_peak


def finish(path, rows):
    """Writes the rows (each with an "ok") as JSON lines to path, prints the tally, exits 1 if one failed."""
    import sys
    with open(path, "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    print(f"{sum(r['ok'] for r in rows)} passed, {sum(not r['ok'] for r in rows)} failed")
    sys.exit(0 if all(r["ok"] for r in rows) else 1)
