/* The C API of libgpumem-host.so, which the TypeScript host code calls through FFI.
 *
 * Plain C types only. Every function returns 0 on success, or -1 with a one-line,
 * NUL-terminated message in err (err may be NULL; errlen is its size in bytes, 256 is plenty).
 * Nothing here keeps state between calls, and nothing here trusts a file's contents. */
#ifndef GPUMEM_HOST_H
#define GPUMEM_HOST_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bytes per entry of a uuids array: a NUL-terminated UUID string (NVML's buffer size). */
#define GPUMEM_UUID_ENTRY_BYTES 96

/* Writes the interposer config file at path (container side: /run/gpumem/config/gpumem.conf),
 * atomically (temp file in the same directory, then rename), mode 0644.
 * limit_all: budget in bytes for every GPU, 0 = none. limit_per_gpu[i]: budget for the
 * container's GPU i, 0 = not set (limit_all applies). n: entries in limit_per_gpu, 0..64
 * (limit_per_gpu may be NULL when n is 0).
 * uuids: NULL = no uuid lines (GPU i is CUDA ordinal i in every process, as before), else n
 * entries of GPUMEM_UUID_ENTRY_BYTES, each a NUL-terminated string: "" = none for that index,
 * else the UUID of the host GPU that is the container's GPU i, as NVML prints it ("GPU-" or
 * "MIG-" and 8-4-4-4-12 hex digits); the interposer then finds each device's index by its UUID,
 * whatever CUDA_VISIBLE_DEVICES does inside the container, and refuses allocations on a device
 * no entry names. A malformed or repeated UUID is refused, naming the index. */
int gpumem_config_write(const char *path, uint64_t limit_all, const uint64_t *limit_per_gpu,
                        const char *uuids, int n, char *err, int errlen);

/* Changes a running container's budget: rewrites the config at config_path exactly as
 * gpumem_config_write does (same arguments), then bumps the generation counter in the
 * accounting region at accounting_path (validated first, written with one pwrite, never mapped).
 * The container's processes compare that counter on every allocation and re-read the config
 * when it changed, so the new budget applies from their next allocation. Lowering below the
 * current use is allowed: nothing is taken back, new allocations are refused until the use
 * falls below the new budget. On failure after the config was written, the processes still pick
 * the new config up the next time they re-read it (e.g. at start). The uuids must be those the
 * config already has (read them with gpumem_config_read): a running process refuses every
 * allocation when its config's uuid lines change, a container's GPUs being fixed. */
int gpumem_budget_update(const char *config_path, const char *accounting_path, uint64_t limit_all,
                         const uint64_t *limit_per_gpu, const char *uuids, int n, char *err,
                         int errlen);

/* Reads and strictly validates a config file. Fills *limit_all and limit_per_gpu[0..n-1]
 * (0 = not set) and, unless uuids is NULL, uuids' n entries of GPUMEM_UUID_ENTRY_BYTES (the UUID
 * as NVML prints it, lowercase, or "" where the config has none); n: 0..64. A missing file is an
 * error here. */
int gpumem_config_read(const char *path, uint64_t *limit_all, uint64_t *limit_per_gpu,
                       char *uuids, int n, char *err, int errlen);

/* Creates the shared accounting region file at path (container side:
 * /run/gpumem/shared/accounting), initialized and empty, mode 0666 (container processes may run
 * as any uid), atomically (temp file, then rename over any previous one). The directory must
 * exist. */
int gpumem_accounting_create(const char *path, char *err, int errlen);

/* Mounts the region's own tmpfs on the host's directory dir (the container's shared/ directory,
 * empty), sized for one region and its replacement: a container cannot grow its region file
 * past it. Needs CAP_SYS_ADMIN. _unmount undoes it (lazily; 0 when nothing is mounted there);
 * call it before removing the directory. */
int gpumem_region_storage_mount(const char *dir, char *err, int errlen);
int gpumem_region_storage_unmount(const char *dir, char *err, int errlen);

/* The generation counter of the region at path (validated first, one pread, never mapped): the
 * container's processes re-read their config whenever it differs from what they last saw. The
 * container can write it too: a report, never proof. */
int gpumem_accounting_generation(const char *path, uint64_t *generation, char *err, int errlen);

/* Bumps that counter (generation + 1, as gpumem_budget_update does after rewriting the config),
 * so that the container's processes re-read the config as it is now. */
int gpumem_accounting_bump(const char *path, char *err, int errlen);

/* Reads a region without changing it or trusting it (a container may have scribbled on it):
 * bad magic, version, size or counts give -1 and a message, never a crash. Fills
 * used_per_gpu[0..n-1] (n: 0..64) with the recorded bytes charged per GPU and *live_processes
 * with the number of occupied process slots. Dead processes are not reclaimed here: their
 * liveness cannot be judged from outside the container's pid namespace. */
int gpumem_accounting_usage(const char *path, uint64_t *used_per_gpu, int n, int *live_processes,
                            char *err, int errlen);

/* The same, in one reading, with the driver-taken part, the peak and the refusals:
 * used_per_gpu[0..n-1] as above, driver_per_gpu[0..n-1] what of each GPU's charge is memory the
 * driver took without an allocation call (code, local memory, heap), as the container's
 * processes measured it from NVML; peak_per_gpu[0..n-1] the largest total the container's
 * processes held together on each GPU since the region was created, driver-taken memory
 * included (never less than the total held now; exited processes' share stays in it);
 * refused_per_gpu[0..n-1] how many calls the budget answered with CUDA_ERROR_OUT_OF_MEMORY on
 * each GPU (allocations of every family, contexts, module loads, cuCtxSetLimit, first launches;
 * a program that retries counts each refusal; not counted: calls refused because the budget
 * itself is unusable, failed closed). peak_per_gpu and refused_per_gpu may be NULL.
 * *live_processes as above; *unseen_processes the number of processes for which NVML shows no
 * per-process figure (drivers before 565, or no NVML), whose driver-taken memory is not charged.
 * Container-written numbers: a report, never proof (see DESIGN). A region written by another
 * gpumem release (a container started before an upgrade) gives -1 and "accounting region has
 * an unsupported version (...)". */
int gpumem_accounting_report(const char *path, uint64_t *used_per_gpu, uint64_t *driver_per_gpu,
                             uint64_t *peak_per_gpu, uint64_t *refused_per_gpu, int n,
                             int *live_processes, int *unseen_processes, char *err, int errlen);

/* The processes holding a slot in the region at path, in slot order, for gpumem inspect: the
 * first max of them into pids[i] (the container's own pid, inside its pid namespace),
 * unseen[i] (1: NVML shows no per-process figure for it), used[i*n + g] and driver[i*n + g]
 * (bytes charged on GPU g, and of which driver-taken) for g < n; *count how many there are
 * (may exceed max). Container-written like the report: never proof. 0 or -1 with err. */
int gpumem_accounting_processes(const char *path, int32_t *pids, int32_t *unseen, uint64_t *used,
                                uint64_t *driver, int max, int n, int *count, char *err,
                                int errlen);

/* Parses a size as `docker run --memory` does: a number (fraction allowed: 1.5g) with an
 * optional unit b, k, m, g, t or p, optionally followed by i and/or b (kib, kb, ki),
 * case-insensitive, one optional space before the unit; binary multiples
 * (8g = 8GiB = 8gb = 8 * 2^30). No unit means bytes. Zero, negative, garbage, or more than
 * 2^63 bytes give -1 with a message naming the accepted forms. */
int gpumem_parse_size(const char *text, uint64_t *bytes, char *err, int errlen);

/* Limits (gpumem.io/limit*, GPUMEM_LIMIT*): one grammar, defined here for the host code and the
 * interposer alike. A limit travels as GPUMEM_LIMIT_WORDS uint64_t:
 *   [0] bytes: a size, > 0 (0 for a percent)
 *   [1] percent_num, [2] percent_den: a percent, exactly [1] / [2] percent, in (0, 100], [2] a
 *       power of ten up to 10^17 (both 0 for a size)
 * all three 0: not set.
 * A value is a size as gpumem_parse_size reads it, or N% / N.N% (at most 17 decimals, trailing
 * zeros aside) in (0, 100]; empty, or with whitespace before or after it, is refused. */
#define GPUMEM_LIMIT_WORDS 3

/* Parses one value; what names it in the message (e.g. "annotation gpumem.io/limit"), which reads
 * `<what>="<text>" is not a valid limit; use a size like 512m, ... or a percent of the GPU like 50%`
 * (or "is empty", "has spaces around the value", "is out of range; a percent must be above 0 and
 * at most 100"). Fills limit[0..2]. */
int gpumem_parse_limit(const char *what, const char *text, uint64_t *limit, char *err, int errlen);

/* Reads the limit variables of an environment: env holds n "KEY=value" strings (n < 0: up to a
 * NULL entry, like environ). GPUMEM_LIMIT and GPUMEM_LIMIT_<i> (i = 0..63 in decimal, no leading
 * zero); the last of a repeated key wins. Any other variable whose name starts with GPUMEM_LIMIT
 * (GPUMEM_LIMIT_X, GPUMEM_LIMITS, GPUMEM_LIMIT_64, GPUMEM_LIMIT_01) is refused naming it; other
 * variables are not looked at. limits holds (64 + 1) * GPUMEM_LIMIT_WORDS uint64_t: GPU i's limit
 * at i * GPUMEM_LIMIT_WORDS, GPUMEM_LIMIT's at 64 * GPUMEM_LIMIT_WORDS. *found = 1 when any limit
 * variable is present, else 0. Messages start with "environment variable <KEY>" or
 * "unknown environment variable <KEY>". */
int gpumem_env_limits(const char *const *env, int n, uint64_t *limits, int *found, char *err,
                      int errlen);

/* A percent limit (limit[0..2] as above) on a GPU of gpu_total bytes: *bytes =
 * floor(gpu_total * percent / 100), exactly. A result of 0 bytes is refused (-1):
 * `<what>="<p>%" resolves to 0 bytes on GPU <gpu> (of <total> bytes); use ...`. */
int gpumem_percent_bytes(const char *what, const uint64_t *limit, int gpu, uint64_t gpu_total,
                         uint64_t *bytes, char *err, int errlen);

/* How messages show what they were given (native/src/format/quote.h), for host code to show keys
 * and values exactly as the C grammar does: text[0..len) (NUL bytes allowed) into out, always
 * NUL-terminated; mode 0: a value, quoted, cut after 64 characters ("first 64…" (N characters));
 * 1: a key, bare when plain; 2: a whole message line, control characters escaped, nothing cut.
 * Returns the length written, or -1 for bad arguments (out too small is cut short, not an error;
 * 448 bytes hold any value or key, 6 * len + 1 any line). */
int gpumem_quote_text(const char *text, uint64_t len, int mode, char *out, int outlen);

/* A constant host code shares with the C side, by name: the state layout ("state_root",
 * "config_file", "accounting_file", "agent_socket_name", ...), the agent protocol's words
 * ("agent_create", "agent_ready", "agent_refused") and "max_gpus". NULL for an unknown name.
 * The strings are static. */
const char *gpumem_constant(const char *name);

#ifdef __cplusplus
}
#endif

/* The host's GPUs in NVML's index order: total memory in total_bytes[i] and the UUID
 * ("GPU-...", NUL-terminated) in uuids + i*96, for the first n of them; *count = how many there
 * are. Loads libnvidia-ml.so.1 only for this call; -1 with err when the host has none. */
int gpumem_gpu_list(uint64_t *total_bytes, char *uuids, int n, int *count, char *err, int errlen);

/* The compute processes NVML lists on the host's GPUs and what each holds there (its
 * nvmlDeviceGetComputeRunningProcesses_v3): entry k is GPU gpu[k] (NVML's index), pid[k] (as
 * NVML gives it: the host's pid, for a host tool) and used[k] bytes (UINT64_MAX where NVML cannot
 * tell), for the first n entries; *count = how many there are (more than n: ask again with room
 * for them). Bit i of *unlisted is set for GPU i when NVML could not list its processes. Loads
 * libnvidia-ml.so.1 only for this call; -1 with err when the host has none. */
int gpumem_gpu_processes(int32_t *gpu, uint32_t *pid, uint64_t *used, int n, int *count,
                         uint64_t *unlisted, char *err, int errlen);


/* The host's GPU inventory, the driver's per-cgroup memory limit and the admission lock. */

/* Every GPU in NVML's index order, each followed by its MIG devices when it is in MIG mode
 * (current mode; MIG indexes without a device are skipped). Entry k: its UUID ("GPU-..." or
 * "MIG-...", NUL-terminated) at uuids + k*96, its memory in total_bytes[k], minor[k] the minor
 * number of the device node it is reached through (/dev/nvidia<minor>; a MIG device: its GPU's),
 * parent[k] = -1 for a GPU, else the entry of its GPU in this same list. The first n entries are
 * written; *count = how many there are (more than n: ask again with room for them). The driver's
 * version ("580.105.08") goes into driver_version[0..dvlen) (80 bytes hold any; dvlen 0: not
 * asked). Loads libnvidia-ml.so.1 only for this call; -1 with err when the host has none. */
int gpumem_gpu_inventory(char *uuids, uint64_t *total_bytes, int32_t *minor, int32_t *parent, int n,
                         int *count, char *driver_version, int dvlen, char *err, int errlen);

/* The driver's own hard limit on the GPU memory a cgroup's processes may hold on the GPU with
 * that UUID (NVML R615+, nvmlDeviceSetMemoryLimits_v1; cgroup_file: the absolute sysfs path NVML
 * takes as the cgroup's name). bytes > 0 sets soft = hard = bytes; 0 clears (soft 0, hard
 * NVML_DEVICE_MEMORY_LIMIT_MAX). Returns 0 done; 1 not available here, with the reason in err
 * (a driver before 615 or an NVML without the function, a MIG device, NVML_ERROR_NOT_SUPPORTED);
 * -1 failed with err (no NVML, an unknown UUID, not root, any other NVML error). */
int gpumem_memory_limit(const char *uuid, const char *cgroup_file, uint64_t bytes, char *err,
                        int errlen);

/* The host-wide lock: opens or creates path (mode 0600, never through a symbolic link, not
 * inherited across exec) and waits for an exclusive flock on it; *fd is the holder's descriptor.
 * The kernel drops the lock when the holder dies. _release unlocks and closes fd (0, or -1 when
 * fd was not a locked descriptor). */
int gpumem_lock_acquire(const char *path, int *fd, char *err, int errlen);
int gpumem_lock_release(int fd);

#endif
