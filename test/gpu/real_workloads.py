"""Real framework workloads (training, generation, torch.compile/Triton, a CuPy NVRTC kernel, JAX jit,
local-memory spills, a raised stack limit), each doubled until the framework refuses: natively, under
gpumem and under NVIDIA MPS's pinned limit (the reference to beat). The host's view is sampled from
outside every run: the workload's own processes in nvidia-smi's per-process list, and the device.

usage (repo root): python3 test/gpu/real_workloads.py OUT_DIR [LIMITS [MODES]]
  LIMITS "4g,16g"; MODES a subset of "native,gpumem,mps" (default all);
  GPUMEM_SUITE_ONLY="a|b" runs only the workloads whose names contain a or b.
The CUDA C workloads are built by run.sh (bash test/gpu/run.sh OUT_DIR LIMITS real)."""
import json, os, shutil, signal, subprocess, sys, tempfile, threading, time
from datetime import date

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hostview import _smi, device_used_mib  # noqa: E402  (nvidia-smi without LD_PRELOAD)

OUT = sys.argv[1] if len(sys.argv) > 1 else "."
LIMITS = (sys.argv[2] if len(sys.argv) > 2 else "4g,16g").split(",")
MODES = (sys.argv[3] if len(sys.argv) > 3 else "native,gpumem,mps").split(",")
ONLY = os.environ.get("GPUMEM_SUITE_ONLY")
TIMEOUT_S = 240
HOLD = "2"
LIB = os.path.abspath("native/build/libgpumem.so")
# What every workload starts from: nothing of gpumem or MPS, so a native run is native.
CLEAN = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD" and not k.startswith(("GPUMEM_", "CUDA_MPS_"))}


def size_mib(limit):
    return int(limit[:-1]) * (1024 if limit[-1] in "gG" else 1)


def cap(start, mib_per_unit, limit_mib):
    """The batch, doubling from start, at about 3 times the limit by a rough estimate of the workload's
    MiB per unit: the limit refuses well before it, and the native run still ends."""
    n = start
    while n * mib_per_unit < 3 * limit_mib:
        n *= 2
    return n


def py(script, start, per_unit):
    return lambda lm: ["python3", f"test/gpu/workloads/{script}", str(start), str(cap(start, per_unit, lm)), HOLD]


WORKLOADS = [  # name, unit of its batch, command for a limit in MiB
    ("resnet_train", "images", py("resnet_train.py", 16, 100)),
    ("gpt2_generate", "sequences", py("gpt2_generate.py", 8, 20)),
    ("compiled", "256-token sequences", py("compiled.py", 32, 28)),
    ("cupy_rawkernel", "MiB per array", py("cupy_rawkernel.py", 64, 3)),
    ("jax_jit", "MiB per array", py("jax_jit.py", 64, 4)),
    ("spill", "256 MiB blocks", lambda lm: ["/tmp/gpumem_spill", str(cap(1, 256, lm)), HOLD]),
    ("stack_limit", "KiB of stack", lambda lm: ["/tmp/gpumem_stack_limit", "2", "64", str(3 * lm), HOLD]),
]
WORKLOADS = [w for w in WORKLOADS if not ONLY or any(o in w[0] for o in ONLY.split("|"))]


def descendants(root):
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            kids.setdefault(ppid, []).append(int(d))
    found, todo = {root}, [root]
    while todo:
        for k in kids.get(todo.pop(), []):
            if k not in found:
                found.add(k)
                todo.append(k)
    return found


class Sampler(threading.Thread):
    """Every 0.2 s: the workload's processes (its pid and descendants) in nvidia-smi's per-process list,
    the MPS server's line apart, and the device's used memory above its idle level (which the MPS
    server's own memory pollutes, hence the per-process figure for the verdict)."""

    def __init__(self, server_pids=()):
        super().__init__(daemon=True)
        self.idle = device_used_mib()
        self.root, self.server_pids = None, set(server_pids)
        self.proc_peak = self.others_peak = self.server_peak = self.device_peak = 0
        self.matched = False
        self.done = threading.Event()

    def run(self):
        while not self.done.is_set():
            ours = descendants(self.root) if self.root else set()
            mine = others = server = 0
            for row in _smi("compute-apps", "pid,process_name,used_memory"):
                try:
                    pid, mib = int(row[0]), int(row[-1])
                except (ValueError, IndexError):  # "[N/A]"
                    continue
                if "mps-server" in ",".join(row[1:-1]) or pid in self.server_pids:
                    server += mib
                elif pid in ours:
                    mine, self.matched = mine + mib, True
                else:
                    others += mib
            self.proc_peak, self.others_peak = max(self.proc_peak, mine), max(self.others_peak, others)
            self.server_peak = max(self.server_peak, server)
            self.device_peak = max(self.device_peak, device_used_mib() - self.idle)
            self.done.wait(0.2)

    @property
    def host_peak(self):
        # nvidia-smi shows host pids; in a pid namespace none match, and the one workload running is
        # then every process but the MPS server
        return self.proc_peak if self.matched else self.others_peak


def _signal_group(pgid, sig):
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


CURRENT = []  # the workload running now, for the SIGTERM handler


def _terminated(*_):  # a runner stopped from outside still kills its workload and stops MPS
    for p in CURRENT:
        _signal_group(p.pid, signal.SIGKILL)
    sys.exit(143)


signal.signal(signal.SIGTERM, _terminated)


def run_one(name, unit, argv, mode, limit, env, server_pids=()):
    t0 = time.time()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        s = Sampler(server_pids)
        s.start()
        try:  # files, not pipes: compile workers that outlive the workload cannot hold the run open
            p = subprocess.Popen(argv, env=env, stdout=out, stderr=err, text=True, start_new_session=True)
        except OSError as e:  # not built
            p, code = None, "not started"
            err.write(f"{argv[0]}: {e}")
        if p:
            s.root = p.pid
            CURRENT[:] = [p]
            try:
                code = p.wait(timeout=TIMEOUT_S)
            except subprocess.TimeoutExpired:
                _signal_group(p.pid, signal.SIGKILL)
                p.wait()
                code = "timeout"
            _signal_group(p.pid, signal.SIGTERM)  # what the workload left behind, so it holds no memory on
            CURRENT.clear()
        s.done.set()
        s.join()
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    r = {}
    for line in reversed(stdout.strip().splitlines()):
        try:
            r = json.loads(line)
        except ValueError:
            continue
        if isinstance(r, dict) and "workload" in r:
            break
        r = {}
    mib = lambda b: b >> 20 if isinstance(b, int) else None  # noqa: E731
    keys = ("workload", "largest_ok", "refused_at", "error", "total", "free_at_start", "capped")
    return dict(limit=limit if mode != "native" else None, caps_for=limit if mode == "native" else None,
                workload=name, unit=unit, mode=mode, largest_ok=r.get("largest_ok"), refused_at=r.get("refused_at"),
                error="timeout" if code == "timeout" else r.get("error", "no result"), capped=r.get("capped"),
                total_mib=mib(r.get("total")), free_at_start_mib=mib(r.get("free_at_start")),
                host_peak_mib=s.host_peak, device_peak_mib=s.device_peak, mps_server_peak_mib=s.server_peak,
                pid_matched=s.matched, seconds=round(time.time() - t0, 1), exit=code, argv=argv,
                detail={k: v for k, v in r.items() if k not in keys}, stderr=stderr.strip()[-400:])


class Mps:
    """One MPS control daemon, in fresh pipe and log directories, for every MPS run: the pinned limit
    is each client's own environment, so one daemon serves every limit."""

    def __enter__(self):
        self.pipe = tempfile.mkdtemp(prefix="gpumem-mps-pipe-")
        self.log = tempfile.mkdtemp(prefix="gpumem-mps-log-")
        self.env = dict(CLEAN, CUDA_MPS_PIPE_DIRECTORY=self.pipe, CUDA_MPS_LOG_DIRECTORY=self.log)
        try:
            subprocess.run(["nvidia-cuda-mps-control", "-d"], env=self.env, check=True, timeout=30,
                           capture_output=True, text=True)
            for _ in range(50):  # the daemon writes its pid file once it listens
                if os.path.exists(os.path.join(self.pipe, "nvidia-cuda-mps-control.pid")):
                    break
                time.sleep(0.1)
        except BaseException:
            self.__exit__()
            raise
        return self

    def _control(self, command):
        return subprocess.run(["nvidia-cuda-mps-control"], input=command + "\n", env=self.env, text=True,
                              capture_output=True, timeout=60).stdout

    def pids(self):
        """The daemon's and its servers' pids: from its pid file and from any process whose environment
        names this pipe directory (the servers inherit the daemon's)."""
        found = set()
        for d in os.listdir("/proc"):
            try:
                with open(f"/proc/{d}/cmdline", "rb") as f:
                    if b"nvidia-cuda-mps" not in f.read():
                        continue
                with open(f"/proc/{d}/environ", "rb") as f:
                    if f"CUDA_MPS_PIPE_DIRECTORY={self.pipe}".encode() in f.read().split(b"\0"):
                        found.add(int(d))
            except (OSError, ValueError):
                continue
        try:
            with open(os.path.join(self.pipe, "nvidia-cuda-mps-control.pid")) as f:
                found.add(int(f.read().strip()))
        except (OSError, ValueError):
            pass
        return {p for p in found if os.path.exists(f"/proc/{p}")}

    def server_pids(self):
        try:
            return {int(x) for x in self._control("get_server_list").split() if x.isdigit()} | self.pids()
        except (OSError, subprocess.SubprocessError):
            return self.pids()

    def __exit__(self, *exc):
        left = self.pids()
        try:
            self._control("quit")
        except (OSError, subprocess.SubprocessError) as e:
            print(f"mps: quit failed: {e}", file=sys.stderr)
        for _ in range(60):  # quit returns at once; the daemon and server go when their clients have
            left = {p for p in left if os.path.exists(f"/proc/{p}")}
            if not left:
                break
            time.sleep(0.5)
        for p in left:  # ours, by pid, only if quit did not end them
            print(f"mps: {p} still there 30 s after quit, killing it", file=sys.stderr)
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        shutil.copytree(self.log, os.path.join(OUT, "mps-log"), dirs_exist_ok=True)
        shutil.rmtree(self.pipe, ignore_errors=True)
        shutil.rmtree(self.log, ignore_errors=True)


os.makedirs(OUT, exist_ok=True)
rows = []
jsonl = open(os.path.join(OUT, "real-workloads.jsonl"), "w")


def record(row):
    rows.append(row)
    print(json.dumps(row), flush=True)
    jsonl.write(json.dumps(row) + "\n")
    jsonl.flush()  # a run stopped part-way still leaves its rows


# Native once per workload, with the caps of the largest limit: the memory it takes per batch.
biggest = max(LIMITS, key=size_mib)
if "native" in MODES:
    for name, unit, argv in WORKLOADS:
        record(run_one(name, unit, argv(size_mib(biggest)), "native", biggest, CLEAN))
if "gpumem" in MODES:
    for limit in LIMITS:
        for name, unit, argv in WORKLOADS:
            state = tempfile.mkdtemp(prefix="gpumem-real-")  # a fresh budget for every run
            env = dict(CLEAN, LD_PRELOAD=LIB, GPUMEM_LIMIT=limit, GPUMEM_STATE_DIR=state)
            record(run_one(name, unit, argv(size_mib(limit)), "gpumem", limit, env))
            shutil.rmtree(state, ignore_errors=True)
if "mps" in MODES:
    try:
        with Mps() as mps:
            for limit in LIMITS:
                for name, unit, argv in WORKLOADS:
                    env = dict(mps.env, CUDA_MPS_PINNED_DEVICE_MEM_LIMIT=f"0={limit[:-1]}{limit[-1].upper()}")
                    record(run_one(name, unit, argv(size_mib(limit)), "mps", limit, env, mps.server_pids()))
    except (OSError, subprocess.SubprocessError) as e:
        msg = getattr(e, "stderr", None) or str(e)
        print(f"mps: could not run: {msg}", file=sys.stderr)
        for limit in LIMITS:
            for name, unit, _ in WORKLOADS:
                if not any(r["mode"] == "mps" and r["limit"] == limit and r["workload"] == name for r in rows):
                    record(dict(limit=limit, workload=name, unit=unit, mode="mps", largest_ok=None, exit=None,
                                error=f"MPS did not run: {str(msg).strip()[:200]}", host_peak_mib=None))
jsonl.close()


def verdict(limit_mib, g, m):
    """gpumem: refused by the framework (not stopped at the cap), no other error, the host never saw
    more than the limit, and at least the batch MPS reached."""
    if g is None:
        return None
    why = []
    if g["exit"] != 0:
        why.append(f"exit {g['exit']}")
    if g.get("capped"):
        why.append("cap reached")
    if g["host_peak_mib"] > limit_mib:
        why.append("over the limit")
    if m is not None and m.get("exit") is not None and (g["largest_ok"] or 0) < (m["largest_ok"] or 0):
        why.append("smaller than MPS")
    return why


def cell(v):
    if v is None:
        return "—"
    return f"{v:,}" if isinstance(v, int) else str(v).replace("|", "/")


passed = failed = 0
gpu = os.popen("nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader").read().strip()
with open(os.path.join(OUT, "real-workloads.md"), "w") as f:
    f.write(f"Run {date.today()} on {gpu}; modes {','.join(MODES)}.\n")
    for limit in LIMITS:
        lm = size_mib(limit)
        f.write(f"\n### limit {limit}\n\n| workload | largest batch gpumem | largest batch MPS | host peak MiB gpumem "
                "| host peak MiB MPS | device peak MiB gpumem | total shown gpumem (MiB) | error gpumem "
                "| native: host peak MiB @ batch | pass |\n"
                "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- |\n")
        for name, unit, _ in WORKLOADS:
            pick = lambda mode: next((r for r in reversed(rows) if r["mode"] == mode and r["workload"] == name  # noqa: E731
                                      and (mode == "native" or r["limit"] == limit)), None)
            g, m, n = pick("gpumem"), pick("mps"), pick("native")
            why = verdict(lm, g, m)
            if why is not None:
                passed, failed = passed + (not why), failed + bool(why)
            native = f"{n['host_peak_mib']:,} @ {cell(n['largest_ok'])}" if n else "—"
            ok = "—" if why is None else "yes" if not why else "**no** (" + ", ".join(why) + ")"
            f.write(f"| {name} ({unit}) | {cell(g and g['largest_ok'])} | {cell(m and m['largest_ok'])} "
                    f"| {cell(g and g['host_peak_mib'])} | {cell(m and m['host_peak_mib'])} "
                    f"| {cell(g and g['device_peak_mib'])} | {cell(g and g['total_mib'])} "
                    f"| {cell(g and (g['error'] or '')[:90])} | {native} | {ok} |\n")
    f.write("\nHost peak: the workload's own processes in `nvidia-smi --query-compute-apps`, sampled every 0.2 s "
            "from outside (the MPS server's line excluded); device peak: `memory.used` above idle. Pass: gpumem's "
            "run was refused by the framework's own out-of-memory error, its host peak ≤ the limit, and its largest "
            "batch ≥ MPS's. Native runs use the largest limit's caps.\n")
print(f"{passed} passed, {failed} failed")
sys.exit(0 if failed == 0 else 1)
