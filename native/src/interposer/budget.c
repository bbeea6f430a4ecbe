/* Finds the budget (host config file, else GPUMEM_LIMIT), attaches the shared accounting region
 * and joins it; all at the first wrapped call, because this library is preloaded into every
 * process of a container and most of them never touch a GPU. */
#include "budget.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../format/accounting_ledger.h"
#include "../format/liveness.h"
#include "../format/config.h"
#include "../format/size.h"
#include "../common/cuda.h"
#include "env_limits.h"
#include "fork_reset.h"
#include "symbols.h"

#define DEFAULT_STATE_DIR "/run/gpumem"

extern char **environ;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static enum budget_mode mode = BUDGET_OFF;
static struct gpumem_config cfg;
static struct gpumem_region *region;
static int slot = -1;
static pthread_mutex_t join_lock = PTHREAD_MUTEX_INITIALIZER;
static pid_t owner_pid; /* standalone: the process that created owned_dir */
static char owned_dir[4096];
static int private_tree; /* the state dir is a standalone tree's: its last process removes it */

/* Live budget: the effective limit per device, re-read from the config file (read-only in a
 * container) only when the region's generation differs from the one last seen. */
static uint64_t limits[GPUMEM_MAX_GPUS];
static uint64_t seen_gen;
static char config_path[4200];
static pthread_mutex_t reload_lock = PTHREAD_MUTEX_INITIALIZER;
static int closed_by_reload;
/* Standalone percents (GPUMEM_LIMIT=50%) need the device's size; resolved at load when the
 * driver was initialized, else here at the device's first use, from the real driver. Until it
 * is known nothing is granted on that device: a percent never means "no limit". */
static int env_mode; /* GPUMEM_LIMIT* has a percent */
static signed char env_pct[GPUMEM_MAX_GPUS]; /* 0 not yet, 1 done, -1 refused */
static int64_t last_reclaim_ms = -1000;

static void apply_limits(const struct gpumem_config *c)
{
  for (int d = 0; d < GPUMEM_MAX_GPUS; d++)
    __atomic_store_n(&limits[d], gpumem_config_budget(c, d), __ATOMIC_RELAXED);
}

/* One line to stderr; write(2) rather than stdio so nothing is buffered or reentered. */
void budget_say(const char *what)
{
  char line[768];
  int n = snprintf(line, sizeof line, "gpumem: %s\n", what);
  if (n > (int)sizeof line - 1) n = (int)sizeof line - 1;
  ssize_t ignored = write(2, line, (size_t)n);
  (void)ignored;
}

static void say(const char *what) { budget_say(what); }

/* Standalone: a private state dir that the whole process tree finds through the environment,
 * marked so that the last process of the tree to leave it removes it. */
#define PRIVATE_MARK "/standalone"

static int have_limit_env(void)
{
  for (char **e = environ; e && *e; e++)
    if (strncmp(*e, "GPUMEM_LIMIT", 12) == 0) return 1;
  return 0;
}

static int host_configured(void)
{
  return access(DEFAULT_STATE_DIR "/config/gpumem.conf", F_OK) == 0 || errno != ENOENT;
}

static int make_private_dir(char *err, int errlen)
{
  const char *tmp = getenv("TMPDIR");
  if (!tmp || !*tmp) tmp = "/tmp";
  char dir[4096], mark[4200];
  snprintf(dir, sizeof dir, "%s/gpumem.XXXXXX", tmp);
  if (!mkdtemp(dir)) {
    snprintf(err, (size_t)errlen, "cannot create a state directory in %s: %s", tmp,
             strerror(errno));
    return -1;
  }
  snprintf(mark, sizeof mark, "%s" PRIVATE_MARK, dir);
  int fd = open(mark, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0) close(fd);
  snprintf(owned_dir, sizeof owned_dir, "%s", dir);
  owner_pid = getpid();
  setenv("GPUMEM_STATE_DIR", dir, 1);
  return 0;
}

/* At load, before main: a process started with GPUMEM_LIMIT (and no host config) makes the
 * private dir at once and exports it, so every process it starts, directly or through a shell
 * that never touches CUDA, shares its one budget (README: "one budget per process tree"). */
__attribute__((constructor)) static void standalone_tree(void)
{
  const char *dir = getenv("GPUMEM_STATE_DIR");
  if ((dir && *dir) || !have_limit_env() || host_configured()) return;
  char err[600];
  if (make_private_dir(err, sizeof err)) say(err); /* init refuses allocations then */
}

static struct gpumem_region *open_region(const char *state, char *err, int errlen)
{
  char path[4200];
  snprintf(path, sizeof path, "%s/shared", state);
  mkdir(path, 0777); /* usually there already; EEXIST is fine */
  snprintf(path, sizeof path, "%s/shared/accounting", state);
  int missing;
  struct gpumem_region *r = gpumem_accounting_attach(path, &missing, err, errlen);
  if (!r && missing) {
    /* Several processes may get here at once: create links a complete file or loses the race. */
    if (gpumem_accounting_create_file(path, 0, err, errlen)) return NULL;
    r = gpumem_accounting_attach(path, &missing, err, errlen);
  }
  return r;
}

static int join(void)
{
  pthread_mutex_lock(&join_lock);
  if (slot < 0) {
    pid_t me = getpid();
    slot = gpumem_accounting_join(region, me, gpumem_process_start_time(me));
  }
  int s = slot;
  pthread_mutex_unlock(&join_lock);
  return s;
}

static void after_fork_child(void)
{
  pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
  join_lock = fresh;
  slot = -1; /* the child is another process: it joins on its first allocation (its maps of
              * charged pointers and handles are emptied by handlemap.c's own fork handler) */
}

static void init(void)
{
  char err[600];
  char state[4096];
  /* A container the host configured has its config here, read-only: then nothing the
   * container controls (GPUMEM_STATE_DIR, GPUMEM_LIMIT) is consulted, so no variable an image
   * or a process sets can point the interposer elsewhere or switch the limit off. */
  snprintf(state, sizeof state, "%s", DEFAULT_STATE_DIR);
  snprintf(config_path, sizeof config_path, "%s/config/gpumem.conf", state);
  int rc = gpumem_config_load(config_path, &cfg, err, sizeof err);
  if (rc == 1) { /* no host config: standalone, a state dir of the caller's choosing */
    const char *dir = getenv("GPUMEM_STATE_DIR");
    int have_dir = dir && *dir;
    if (!have_dir && !have_limit_env()) { /* nothing asked for: pure pass-through */
      mode = BUDGET_OFF;
      return;
    }
    if (!have_dir && make_private_dir(err, sizeof err)) {
      say(err);
      mode = BUDGET_CLOSED;
      return;
    }
    snprintf(state, sizeof state, "%s", have_dir ? dir : owned_dir);
    snprintf(config_path, sizeof config_path, "%s/config/gpumem.conf", state);
    rc = gpumem_config_load(config_path, &cfg, err, sizeof err);
    if (rc == 1) { /* no config there either: the environment */
      int env = env_limits_load(&cfg); /* 1 found, 0 none, -1 invalid (reported) */
      env_mode = env > 0 && env_limits_have_percent();
      if (env <= 0) {
        mode = env < 0 ? BUDGET_CLOSED : BUDGET_OFF;
        return;
      }
      mkdir(state, 0755);
    }
    char mark[4200];
    snprintf(mark, sizeof mark, "%s" PRIVATE_MARK, state);
    private_tree = access(mark, F_OK) == 0;
  }
  if (rc < 0) {
    say(err);
    mode = BUDGET_CLOSED;
    return;
  }
  region = open_region(state, err, sizeof err);
  if (!region) {
    say(err);
    mode = BUDGET_CLOSED;
    return;
  }
  if (join() < 0) {
    say("accounting region has no free process slot (1024 processes); refusing allocations");
    mode = BUDGET_CLOSED;
    return;
  }
  fork_reset_register(after_fork_child);
  apply_limits(&cfg);
  /* Different from any value the region holds: the first check re-reads the config, which
   * closes the window between reading the config above and attaching the region. */
  seen_gen = ~__atomic_load_n(&region->generation, __ATOMIC_ACQUIRE);
  mode = BUDGET_ENFORCE;
}

/* Slow path, only when the generation moved: re-read the config. A missing file keeps the
 * limits (environment mode has none; the host removes it only when the container is gone); an
 * unreadable or malformed one fails closed until a good one arrives. */
static void reload_config(uint64_t gen)
{
  pthread_mutex_lock(&reload_lock);
  if (__atomic_load_n(&seen_gen, __ATOMIC_RELAXED) != gen) {
    struct gpumem_config c;
    char err[600];
    int rc = gpumem_config_load(config_path, &c, err, sizeof err);
    if (rc == 0) {
      apply_limits(&c);
      if (closed_by_reload) {
        closed_by_reload = 0;
        __atomic_store_n(&mode, BUDGET_ENFORCE, __ATOMIC_RELEASE);
      }
    } else if (rc < 0 && !closed_by_reload) {
      say(err); /* once per change of the file, not per call */
      closed_by_reload = 1;
      __atomic_store_n(&mode, BUDGET_CLOSED, __ATOMIC_RELEASE);
    }
    __atomic_store_n(&seen_gen, gen, __ATOMIC_RELEASE);
  }
  pthread_mutex_unlock(&reload_lock);
}

/* The hot path's whole cost for a live budget: one atomic load and a compare. */
static inline void check_generation(void)
{
  uint64_t gen = __atomic_load_n(&region->generation, __ATOMIC_ACQUIRE);
  if (__builtin_expect(gen != __atomic_load_n(&seen_gen, __ATOMIC_ACQUIRE), 0))
    reload_config(gen);
}

enum budget_mode budget_mode(void)
{
  pthread_once(&once, init);
  enum budget_mode m = __atomic_load_n(&mode, __ATOMIC_ACQUIRE);
  if (m != BUDGET_OFF && region) {
    check_generation();
    m = __atomic_load_n(&mode, __ATOMIC_ACQUIRE);
  }
  return m;
}

/* Dead-process reclaim reads /proc for every slot: on a refused reservation it runs at most
 * every 10 ms per process, so a program retrying in a loop at OOM does not turn it into I/O per
 * call. */
static int reclaim_due(void)
{
  struct timespec ts;
  if (clock_gettime(CLOCK_MONOTONIC_COARSE, &ts)) return 1;
  int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
  int64_t last = __atomic_load_n(&last_reclaim_ms, __ATOMIC_RELAXED);
  if (now - last < 10) return 0;
  return __atomic_compare_exchange_n(&last_reclaim_ms, &last, now, 0, __ATOMIC_RELAXED,
                                     __ATOMIC_RELAXED);
}


static int env_percent(int dev)
{
  int st = __atomic_load_n(&env_pct[dev], __ATOMIC_ACQUIRE);
  if (st || !env_mode) return st;
  cuDeviceTotalMem_v2_fn total_of = (cuDeviceTotalMem_v2_fn)symbols_real(SYM_cuDeviceTotalMem_v2);
  size_t total = 0;
  if (!total_of || total_of(&total, dev) != CUDA_SUCCESS) return -2; /* not yet: refuse, retry */
  uint64_t bytes;
  int rc = env_limits_percent_bytes(dev, total, &bytes);
  if (rc > 0) __atomic_store_n(&limits[dev], bytes, __ATOMIC_RELAXED);
  if (rc < 0) __atomic_store_n(&mode, BUDGET_CLOSED, __ATOMIC_RELEASE);
  st = rc < 0 ? -1 : 1;
  __atomic_store_n(&env_pct[dev], (signed char)st, __ATOMIC_RELEASE);
  return st;
}

int budget_reserve(int dev, uint64_t bytes)
{
  int s = slot;
  if (s < 0 && (s = join()) < 0) return -1;
  if (dev < 0 || dev >= GPUMEM_MAX_GPUS) return -1;
  if (__builtin_expect(env_mode, 0) && env_percent(dev) < 0) return -1;
  uint64_t limit = __atomic_load_n(&limits[dev], __ATOMIC_RELAXED);
  if (gpumem_accounting_try_reserve(region, s, dev, bytes, limit, 0) == 0) return 0;
  if (!reclaim_due()) return -1;
  return gpumem_accounting_try_reserve(region, s, dev, bytes, limit, 1);
}

void budget_release(int dev, uint64_t bytes)
{
  gpumem_accounting_release(region, slot, dev, bytes);
}

uint64_t budget_limit(int dev, uint64_t *used)
{
  *used = 0;
  if (__atomic_load_n(&mode, __ATOMIC_ACQUIRE) != BUDGET_ENFORCE || dev < 0 ||
      dev >= GPUMEM_MAX_GPUS)
    return 0;
  check_generation();
  if (__builtin_expect(env_mode, 0) && env_percent(dev) < 0) return 0;
  *used = __atomic_load_n(&region->used[dev], __ATOMIC_RELAXED);
  return __atomic_load_n(&limits[dev], __ATOMIC_RELAXED);
}

uint64_t budget_context_estimate(int dev)
{
  if (!region || dev < 0 || dev >= GPUMEM_MAX_GPUS) return 0;
  uint64_t v = __atomic_load_n(&region->context_estimate[dev], __ATOMIC_RELAXED);
  return v > (UINT64_C(4) << 30) ? UINT64_C(4) << 30 : v; /* the container can write it */
}

void budget_note_context(int dev, uint64_t bytes)
{
  if (region && dev >= 0 && dev < GPUMEM_MAX_GPUS && bytes)
    __atomic_store_n(&region->context_estimate[dev], bytes, __ATOMIC_RELAXED);
}

/* A standalone tree's dir goes with the last of its processes that used it: each one leaving
 * checks whether any other (living) process still holds a slot. */
static void remove_private_dir(const char *dir)
{
  static const char *const files[] = {"/shared/accounting", "/shared", PRIVATE_MARK, ""};
  char path[4200];
  for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
    snprintf(path, sizeof path, "%s%s", dir, files[i]);
    if (remove(path) && errno != ENOENT && errno != ENOTDIR) break;
  }
}

static int others_hold_slots(const char *dir)
{
  char path[4200], err[200];
  snprintf(path, sizeof path, "%s/shared/accounting", dir);
  int missing;
  struct gpumem_region *r = region ? region : gpumem_accounting_attach(path, &missing, err,
                                                                        sizeof err);
  if (!r) return 0;
  gpumem_accounting_reclaim(r);
  int live = 0;
  for (int i = 0; i < GPUMEM_MAX_SLOTS; i++)
    if (__atomic_load_n(&r->slots[i].pid, __ATOMIC_RELAXED) > 0) live++;
  if (r != region) munmap(r, sizeof *r);
  return live > 0;
}

/* A clean exit gives the process's charges back at once (the driver frees its memory anyway);
 * a killed process's charges are reclaimed by the next process that joins or runs short. */
__attribute__((destructor)) static void at_exit(void)
{
  pthread_mutex_lock(&join_lock);
  if (region && slot >= 0) {
    gpumem_accounting_leave(region, slot);
    slot = -1;
  }
  pthread_mutex_unlock(&join_lock);
  const char *dir = private_tree ? getenv("GPUMEM_STATE_DIR")
                    : owner_pid == getpid() ? owned_dir : NULL;
  if (dir && *dir && !others_hold_slots(dir)) remove_private_dir(dir);
}

/* pitch, managed, VMM, arrays: moves a charge from the bound reserved before a call to what the
 * driver really took; growing can be refused like any reservation. */
int budget_adjust(int dev, uint64_t from, uint64_t to)
{
  if (to > from) return budget_reserve(dev, to - from);
  if (to < from) budget_release(dev, from - to);
  return 0;
}

/* stream-ordered: charges bytes the driver already holds (a launched graph's memory, a pool that
 * grew past its reservation), past the budget if need be, so others are refused until returned. */
void budget_charge_held(int dev, uint64_t bytes)
{
  int s = slot;
  if (s < 0 && (s = join()) < 0) return;
  if (dev < 0 || dev >= GPUMEM_MAX_GPUS || bytes == 0) return;
  gpumem_accounting_try_reserve(region, s, dev, bytes, 0, 0); /* budget 0: never refused */
}

int budget_set_driver(int dev, uint64_t bytes, int strict)
{
  if (dev < 0 || dev >= GPUMEM_MAX_GPUS) return -1;
  if (slot < 0 && join() < 0) return -1;
  /* join_lock: the exit handler gives the slot back under it, so a measurement from the
   * reconcile thread can never land in a slot that is no longer ours. */
  pthread_mutex_lock(&join_lock);
  int rc = -1;
  if (region && slot >= 0) {
    uint64_t limit = strict ? __atomic_load_n(&limits[dev], __ATOMIC_RELAXED) : 0;
    rc = gpumem_accounting_set_driver(region, slot, dev, bytes, limit);
  }
  pthread_mutex_unlock(&join_lock);
  return rc;
}

void budget_own_charge(int dev, uint64_t *used, uint64_t *driver)
{
  *used = *driver = 0;
  pthread_mutex_lock(&join_lock);
  if (region && slot >= 0) gpumem_accounting_slot_charge(region, slot, dev, used, driver);
  pthread_mutex_unlock(&join_lock);
}

void budget_mark_driver_unseen(void)
{
  pthread_mutex_lock(&join_lock);
  if (region && slot >= 0) gpumem_accounting_slot_flag(region, slot, GPUMEM_SLOT_DRIVER_UNSEEN, 1);
  pthread_mutex_unlock(&join_lock);
}
