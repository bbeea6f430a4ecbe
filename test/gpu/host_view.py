"""Runs a workload under the interposer and samples the host's view of it (nvidia-smi, no LD_PRELOAD).

usage: host_view.py LIMIT -- cmd args...   prints the workload's JSON line with host_peak_mib added.
"""
import json, os, subprocess, sys, threading, time

limit = sys.argv[1]
cmd = sys.argv[sys.argv.index("--") + 1:]
lib = os.path.abspath("native/build/libgpumem.so")
env = dict(os.environ, LD_PRELOAD=lib, GPUMEM_LIMIT=limit)
proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)
peak = {"mib": 0}
done = threading.Event()

def sample():
    clean = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    while not done.is_set():
        out = subprocess.run(["nvidia-smi", "--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, env=clean).stdout
        # The workload's whole process tree counts (python may fork helpers).
        for line in out.strip().splitlines():
            pid, mib = [s.strip() for s in line.split(",")]
            peak["mib"] = max(peak["mib"], int(mib))
        time.sleep(0.2)

t = threading.Thread(target=sample)
t.start()
line = proc.stdout.readline()
rc = proc.wait()
done.set()
t.join()
try:
    result = json.loads(line)
except ValueError:
    result = {"raw": line}
result.update({"limit": limit, "host_peak_mib": peak["mib"], "exit": rc, "cmd": " ".join(cmd)})
print(json.dumps(result), flush=True)
