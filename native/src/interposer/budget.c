/* Which budget applies to this process now: found once at the first wrapped call, its per-device
 * limits re-read from the config when the host bumps the region's generation (the live budget),
 * and percents of a device resolved at its first use. Limits and the region's counters are kept
 * by the container's GPU index (device_index.h), which every function of budget.h finds from
 * the CUDA ordinal it is given. */
#include "budget.h"

#include <pthread.h>
#include <stdio.h>

#include "../common/cuda.h"
#include "budget_source.h"
#include "device_index.h"
#include "env_limits.h"
#include "region.h"
#include "say.h"
#include "symbols.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static enum budget_mode mode = BUDGET_OFF;

/* Live budget: the effective limit per device, re-read from the config file (read-only in a
 * container) only when the region's generation differs from the one last seen. */
static uint64_t limits[GPUMEM_MAX_GPUS];
static const uint64_t *generation; /* in the region, once it is attached */
static uint64_t seen_gen;
static char config_path[4200];
static pthread_mutex_t reload_lock = PTHREAD_MUTEX_INITIALIZER;
static int closed_by_reload;
/* Standalone percents (GPUMEM_LIMIT=50%) need the device's size; resolved at load when the
 * driver was initialized, else here at the device's first use, from the real driver. Until it
 * is known nothing is granted on that device: a percent never means "no limit". */
static int env_mode; /* GPUMEM_LIMIT* has a percent */
static signed char env_pct[GPUMEM_MAX_GPUS]; /* 0 not yet, 1 done, -1 refused */

static void apply_limits(const struct gpumem_config *c)
{
  for (int d = 0; d < GPUMEM_MAX_GPUS; d++)
    __atomic_store_n(&limits[d], gpumem_config_budget(c, d), __ATOMIC_RELAXED);
}

static void init(void)
{
  static struct budget_source src;
  char err[600];
  budget_source_find(&src);
  snprintf(config_path, sizeof config_path, "%s", src.config_path);
  env_mode = src.env_percent;
  if (src.mode != BUDGET_ENFORCE) {
    mode = src.mode;
    return;
  }
  device_index_init(&src.cfg);
  int rc = region_open(src.state, &generation, err, sizeof err);
  apply_limits(&src.cfg); /* even if closed below: then what it shows as the total */
  if (rc) {
    gpumem_say(rc == -2 ? "accounting region has no free process slot (1024 processes); refusing "
                          "allocations"
                        : err);
    mode = BUDGET_CLOSED;
    return;
  }
  /* Different from any value the region holds: the first check re-reads the config, which
   * closes the window between reading the config above and attaching the region. */
  seen_gen = ~__atomic_load_n(generation, __ATOMIC_ACQUIRE);
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
    char err[4400];
    int rc = gpumem_config_load(config_path, &c, err, sizeof err);
    if (rc == 0 && !device_index_same(&c)) {
      /* This process's charges are recorded by the GPUs the config named when it started. */
      snprintf(err, sizeof err, "%s: its uuid lines changed under a running process (a "
               "container's GPUs never change): every allocation is refused", config_path);
      rc = -1;
    }
    if (rc == 0) {
      apply_limits(&c);
      if (closed_by_reload) {
        closed_by_reload = 0;
        __atomic_store_n(&mode, BUDGET_ENFORCE, __ATOMIC_RELEASE);
      }
    } else if (rc < 0 && !closed_by_reload) {
      gpumem_say(err); /* once per change of the file, not per call */
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
  uint64_t gen = __atomic_load_n(generation, __ATOMIC_ACQUIRE);
  if (__builtin_expect(gen != __atomic_load_n(&seen_gen, __ATOMIC_ACQUIRE), 0))
    reload_config(gen);
}

enum budget_mode budget_mode(void)
{
  pthread_once(&once, init);
  enum budget_mode m = __atomic_load_n(&mode, __ATOMIC_ACQUIRE);
  if (m != BUDGET_OFF && generation) {
    check_generation();
    m = __atomic_load_n(&mode, __ATOMIC_ACQUIRE);
  }
  return m;
}

/* dev: the container index, which is the ordinal here (GPUMEM_LIMIT* has no uuid lines). */
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

/* A device that is not one of the container's GPUs (index -1) is granted nothing. */
int budget_reserve(int dev, uint64_t bytes)
{
  int i = device_index(dev);
  if (region_join() < 0 || i < 0) return -1;
  if (__builtin_expect(env_mode, 0) && env_percent(i) < 0) return -1;
  return region_reserve(i, bytes, __atomic_load_n(&limits[i], __ATOMIC_RELAXED));
}

int budget_device_known(int dev) { return device_index(dev) >= 0; }

uint64_t budget_limit_at(int i, uint64_t *used)
{
  *used = 0;
  if (__atomic_load_n(&mode, __ATOMIC_ACQUIRE) != BUDGET_ENFORCE || i < 0 ||
      i >= GPUMEM_MAX_GPUS)
    return 0;
  check_generation();
  if (__builtin_expect(env_mode, 0) && env_percent(i) < 0) return 0;
  *used = region_used(i);
  return __atomic_load_n(&limits[i], __ATOMIC_RELAXED);
}

uint64_t budget_limit(int dev, uint64_t *used) { return budget_limit_at(device_index(dev), used); }

uint64_t budget_closed_total_at(int i)
{
  if (i < 0 || i >= GPUMEM_MAX_GPUS) return 0;
  return __atomic_load_n(&limits[i], __ATOMIC_RELAXED);
}

uint64_t budget_closed_total(int dev) { return budget_closed_total_at(device_index(dev)); }

/* Moves a charge from the bound reserved before a call (pitch, managed, VMM, arrays) to what the
 * driver really took; growing can be refused like any reservation. */
int budget_adjust(int dev, uint64_t from, uint64_t to)
{
  if (to > from) return budget_reserve(dev, to - from);
  if (to < from) budget_release(dev, from - to);
  return 0;
}

int budget_set_driver(int dev, uint64_t bytes, int strict)
{
  int i = device_index(dev);
  if (i < 0) return -1;
  return region_set_driver(i, bytes, strict ? __atomic_load_n(&limits[i], __ATOMIC_RELAXED) : 0);
}
