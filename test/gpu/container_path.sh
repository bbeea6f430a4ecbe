#!/bin/bash
# The whole container path without Docker, as dockerd drives it: gpumem-runtime create / start of
# an OCI bundle (root: a read-only view of this machine's own filesystem) carrying the
# gpumem.io/limit annotation and NVIDIA_VISIBLE_DEVICES; its main process and a `runc exec` one
# (as `docker exec`) fill the GPU and must share the one budget, while the host's view is sampled.
#
#   bash test/gpu/container_path.sh OUT_DIR [LIMIT]      (root; runc on PATH; gpumem installed)
#
# GPUMEM_PREFIX: where gpumem is installed (default /usr/local). CP_FILL: the fill `runc exec`
# runs until refused (default: test/gpu/torch_fill.py 256 6); CP_MAIN_FILL: the container's own,
# which takes half the budget first and still holds it while the exec'd one fills (default: the
# same, stopping at half the limit and holding 25 s). On a machine
# without a GPU: the fake driver's native/build/tests/alloc-until-oom --hold N, with
# CP_ENV='LD_LIBRARY_PATH=<repo>/native/build/fake'.
# Writes OUT_DIR/container-path.json; prints it and a verdict line.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)
out=${1:?usage: container_path.sh OUT_DIR [LIMIT]}
limit=${2:-4g}
prefix=${GPUMEM_PREFIX:-/usr/local}
runtime=$prefix/bin/gpumem-runtime
case $limit in *[gG]) limit_mib=$((${limit%?} * 1024)) ;; *) limit_mib=${limit%[mM]} ;; esac
fill=${CP_FILL:-python3 $repo/test/gpu/torch_fill.py 256 6}
main_fill=${CP_MAIN_FILL:-python3 $repo/test/gpu/torch_fill.py 256 25 $((limit_mib / 2))}
mkdir -p "$out"
[ -x "$runtime" ] || { echo "container_path: $runtime missing: install gpumem first" >&2; exit 2; }

work=$(mktemp -d /tmp/gpumem-cp.XXXXXX)
id=gpumem-cp-$$
state=$work/runc # runc's own state (--root), as dockerd's shim keeps its own
# runc creates missing mount targets in the root, which is this machine's own: the ones it will
# make are noted now and removed again at the end (only if still empty).
targets="/etc/ld.so.preload /run/gpumem/shared/accounting /run/gpumem/shared /run/gpumem/config /usr/local/lib/gpumem/libgpumem.so /usr/local/lib/gpumem"
made=
for t in $targets; do [ -e "$t" ] || made="$made $t"; done
cleanup() {
  "$runtime" --root "$state" delete --force "$id" >/dev/null 2>&1 || true
  umount -R "$work/bundle/rootfs" 2>/dev/null || true
  for t in $made; do
    if [ -d "$t" ]; then rmdir "$t" 2>/dev/null || true; elif [ -f "$t" ] && [ ! -s "$t" ]; then rm -f "$t"; fi
  done
  rm -rf "$work"
}
trap cleanup EXIT

# The root: this machine's filesystem, every mount under / included (devices, the driver's
# libraries, the repo); runc makes it read-only inside the container.
mkdir -p "$work/bundle/rootfs"
mount --rbind / "$work/bundle/rootfs"
mount --make-rslave "$work/bundle/rootfs"

# The spec dockerd would write: annotations, env, no /dev tmpfs (the host's device nodes are in
# the root already), every device allowed (as --gpus all does through NVIDIA's hook).
mkdir -p "$work/results"
python3 - "$work/bundle/config.json" "$limit" "$main_fill" "${CP_ENV:-}" "$work/results" <<'EOF'
import json, os, subprocess, sys, tempfile
path, limit, fill, extra, results = sys.argv[1:6]
d = tempfile.mkdtemp()
subprocess.run(["runc", "spec", "--bundle", d], check=True)
spec = json.load(open(os.path.join(d, "config.json")))
spec["root"] = {"path": "rootfs", "readonly": True}
spec["process"]["terminal"] = False
spec["process"]["args"] = ["sh", "-c", f"{fill} > {results}/main.json; sleep 1"]
spec["process"]["cwd"] = os.getcwd()
env = [f"PATH={os.environ.get('PATH', '/usr/bin:/bin')}", "NVIDIA_VISIBLE_DEVICES=all", "HOME=/root",
       "PYTHONUNBUFFERED=1"] + [e for e in extra.split() if e]
spec["process"]["env"] = env
spec["annotations"] = {"gpumem.io/limit": limit}
# /dev and /sys come with the root (the host's device nodes; sysfs cannot be mounted anew in the
# host's network namespace, which the container keeps so NVIDIA's sockets stay reachable)
spec["mounts"] = [m for m in spec["mounts"] if not m["destination"].startswith(("/dev", "/sys"))]
spec["mounts"].append({"destination": results, "type": "bind", "source": results, "options": ["rbind", "rw"]})
spec["linux"]["resources"] = {"devices": [{"allow": True, "access": "rwm"}]}
spec["linux"]["namespaces"] = [n for n in spec["linux"]["namespaces"] if n["type"] != "network"]
spec["linux"].pop("maskedPaths", None)
json.dump(spec, open(path, "w"), indent=1)
EOF

# Host view: the container's processes in nvidia-smi (no LD_PRELOAD), every 0.2 s.
peak_file=$work/peak
( peak=0
  while [ ! -e "$work/stop" ]; do
    now=$(env -u LD_PRELOAD nvidia-smi --query-compute-apps=used_memory --format=csv,noheader,nounits 2>/dev/null \
          | awk '{s += $1} END {print s + 0}') || now=0
    [ "$now" -gt "$peak" ] && peak=$now && echo "$peak" >"$peak_file"
    sleep 0.2
  done ) &
sampler=$!

# Who decided: the agent, or the in-process fallback (it logs that no agent answered).
log=${GPUMEM_LOG_FILE:-/var/log/gpumem.log}
fallbacks_before=$(grep -c "agent not answering" "$log" 2>/dev/null || true)
rc_create=0
"$runtime" --root "$state" --log "$work/runc.log" --log-format json create --bundle "$work/bundle" "$id" \
  >"$work/create.out" 2>&1 || rc_create=$?
if [ "$rc_create" != 0 ]; then
  touch "$work/stop"; wait "$sampler" || true
  printf '{"error":"create failed (exit %s)","create":%s,"log":%s}\n' "$rc_create" \
    "$(python3 -c 'import json,sys;print(json.dumps(open(sys.argv[1]).read()[-800:]))' "$work/create.out")" \
    "$(python3 -c 'import json,sys;print(json.dumps(open(sys.argv[1]).read()[-800:]))' "$work/runc.log" 2>/dev/null || echo '""')" \
    | tee "$out/container-path.json"
  exit 1
fi
"$runtime" --root "$state" start "$id"
# The main fill takes its share first: wait until the host's reading of the region shows it.
for _ in $(seq 1 120); do
  used=$("$prefix/bin/gpumem" ps --format json 2>>"$work/ps.err" | python3 -c '
import json, sys
print(max([json.loads(l).get("used", 0) for l in sys.stdin if l.strip()] or [0]))' || echo 0)
  [ "$used" -gt 0 ] && break
  sleep 0.5
done
# `docker exec`, as containerd runs it: `exec --process FILE ID`, a process the spec never named;
# the shim has its file edited (LD_PRELOAD, no CAP_SYS_CHROOT) and it loads /etc/ld.so.preload too.
python3 - "$work/process.json" "$fill" "${CP_ENV:-}" <<'EOF'
import json, os, sys
path, fill, extra = sys.argv[1:4]
env = [f"PATH={os.environ.get('PATH', '/usr/bin:/bin')}", "NVIDIA_VISIBLE_DEVICES=all", "HOME=/root",
       "PYTHONUNBUFFERED=1"] + [e for e in extra.split() if e]
caps = ["CAP_CHOWN", "CAP_KILL", "CAP_SYS_CHROOT"]
json.dump({"terminal": False, "user": {"uid": 0, "gid": 0}, "args": ["sh", "-c", fill], "env": env, "cwd": os.getcwd(),
           "capabilities": {"bounding": caps, "effective": caps, "permitted": caps}}, open(path, "w"))
EOF
exec_json=$("$runtime" --root "$state" exec --process "$work/process.json" "$id" 2>"$work/exec.err" | tail -1) || true
exec_edited=$(python3 -c '
import json, sys
p = json.load(open(sys.argv[1]))
pre = [e for e in p["env"] if e.startswith("LD_PRELOAD=")]
print(1 if pre and "CAP_SYS_CHROOT" not in p["capabilities"]["bounding"] else 0)' "$work/process.json" 2>/dev/null || echo 0)
for _ in $(seq 1 120); do
  status=$("$runtime" --root "$state" state "$id" 2>/dev/null | python3 -c 'import json,sys;print(json.load(sys.stdin)["status"])' || echo gone)
  [ "$status" = stopped ] || [ "$status" = gone ] && break
  sleep 0.5
done
main_json=$(cat "$work/results/main.json" 2>/dev/null || true)
touch "$work/stop"; wait "$sampler" || true
host_peak=$(cat "$peak_file" 2>/dev/null || echo 0)
state_left=$(ls /run/gpumem 2>/dev/null | grep -c "^$id" || true)
"$runtime" --root "$state" delete "$id" >/dev/null 2>&1 || true
sleep 0.5
state_after=$(ls /run/gpumem 2>/dev/null | grep -c "^$id" || true)
decided_by=agent
[ "$(grep -c "agent not answering" "$log" 2>/dev/null || true)" = "$fallbacks_before" ] || decided_by=in-process

EXEC_EDITED=$exec_edited DECIDED_BY=$decided_by python3 - "$out/container-path.json" "$limit" "$host_peak" "$state_left" "$state_after" "$main_json" "$exec_json" \
  "$(tail -c 400 "$work/exec.err" 2>/dev/null)" "$(tail -c 600 "$work/ps.err" 2>/dev/null)" <<'EOF'
import json, sys
path, limit, peak, during, after, main, exe, err, ps_err = sys.argv[1:10]
lim = int(limit[:-1]) * (1024 if limit[-1] in "gG" else 1)
def load(s):
    try:
        return json.loads(s.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None
m, e = load(main), load(exe)
alloc = sum((r or {}).get("allocated", 0) for r in (m, e)) >> 20
r = {"limit": limit, "main": m, "exec": e, "together_mib": alloc, "host_peak_mib": int(peak),
     "state_dirs_while_running": int(during), "state_dirs_after_delete": int(after), "exec_stderr": err,
     "ps_stderr": ps_err,
     "decided_by": __import__("os").environ["DECIDED_BY"],
     "exec_process_edited": __import__("os").environ.get("EXEC_EDITED") == "1"}
# Both processes on one budget: the exec'd one is refused (a clean OOM) while the main one still
# holds its share, and together they stay under the limit, as the host sees it too.
r["ok"] = bool(m and e and m.get("total") == lim << 20 and e.get("error") and m.get("allocated", 0) > 0
               and int(peak) <= lim and alloc <= lim and int(after) == 0 and r["exec_process_edited"])
json.dump(r, open(path, "w"))
print(json.dumps(r))
print("container path:", "pass" if r["ok"] else "FAIL", f"(host peak {peak} MiB of {lim}, main+exec {alloc} MiB)")
sys.exit(0 if r["ok"] else 1)
EOF
