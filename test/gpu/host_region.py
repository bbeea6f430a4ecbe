"""A container-like state dir made and read with the host library (ctypes), as the host does: the
config written by gpumem_config_write, the region made by gpumem_accounting_create, read back by
gpumem_accounting_report and gpumem_accounting_processes. For the GPU scripts (test/gpu/*.sh)."""
import ctypes, os, sys, tempfile

MIB, N, ERR = 1 << 20, 64, 2048
host = ctypes.CDLL(os.path.abspath("native/build/libgpumem-host.so"))
U64S = ctypes.c_uint64 * N


def _check(rc, err, what):
    if rc != 0:
        sys.exit(f"{what}: {err.value.decode()}")


def state_dir(limit_mib, prefix="gpumem-gpu-"):
    """config/gpumem.conf giving limit_mib on every GPU, and shared/accounting."""
    d = tempfile.mkdtemp(prefix=prefix)
    os.makedirs(os.path.join(d, "config"))
    os.makedirs(os.path.join(d, "shared"))
    err = ctypes.create_string_buffer(ERR)
    _check(host.gpumem_config_write(os.path.join(d, "config", "gpumem.conf").encode(),
                                    ctypes.c_uint64(limit_mib * MIB), U64S(), None, N, err, ERR), err,
           "gpumem_config_write")
    _check(host.gpumem_accounting_create(os.path.join(d, "shared", "accounting").encode(), err, ERR), err,
           "gpumem_accounting_create")
    return d


def _accounting(d):
    return os.path.join(d, "shared", "accounting").encode()


def report(d, gpu=0):
    """One GPU's used, driver-taken, peak and refused, and the live processes, as the host reads them."""
    used, driver, peak, refused = U64S(), U64S(), U64S(), U64S()
    live, unseen = ctypes.c_int(-1), ctypes.c_int(-1)
    err = ctypes.create_string_buffer(ERR)
    _check(host.gpumem_accounting_report(_accounting(d), used, driver, peak, refused, N, ctypes.byref(live),
                                         ctypes.byref(unseen), err, ERR), err, "gpumem_accounting_report")
    return dict(used=used[gpu], driver=driver[gpu], peak=peak[gpu], refused=refused[gpu], live=live.value,
                unseen=unseen.value)


def processes(d, gpu=0, room=64):
    """The region's slots: [{pid, used, driver, unseen}] on one GPU (bytes), as gpumem inspect reads them."""
    pids, unseen = (ctypes.c_int32 * room)(), (ctypes.c_int32 * room)()
    used, driver = (ctypes.c_uint64 * (room * N))(), (ctypes.c_uint64 * (room * N))()
    count = ctypes.c_int(-1)
    err = ctypes.create_string_buffer(ERR)
    _check(host.gpumem_accounting_processes(_accounting(d), pids, unseen, used, driver, room, N,
                                            ctypes.byref(count), err, ERR), err, "gpumem_accounting_processes")
    return [dict(pid=pids[i], used=used[i * N + gpu], driver=driver[i * N + gpu], unseen=bool(unseen[i]))
            for i in range(min(count.value, room))]
