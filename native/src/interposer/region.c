/* This process's slot in its container's accounting region (STATE/shared/accounting): attached
 * and joined at the first wrapped call, charged by every wrapper, given back at exit. The
 * process keeps its own record of what it charged beside the slot, which the container can
 * write: the driver-taken memory is measured against that record (reconcile.c). Everything here is
 * kept by the container's GPU index; the budget.h functions find it from the ordinal they get. */
#include "region.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../format/accounting_ledger.h"
#include "../format/liveness.h"
#include "budget.h"
#include "device_index.h"
#include "fork_reset.h"
#include "standalone_dir.h"
#include "state_dir.h"

static struct gpumem_region *region;
static int slot = -1;
static pthread_mutex_t join_lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t last_reclaim_ms = -1000;
/* What this process charged on each device, all of it and of it the driver-taken part, as it
 * charged it: the slot says the same until something in the container writes it. */
static uint64_t own_used[GPUMEM_MAX_GPUS], own_driver[GPUMEM_MAX_GPUS];

static void own_add(int dev, uint64_t bytes) { __atomic_add_fetch(&own_used[dev], bytes, __ATOMIC_RELAXED); }

static void own_sub(int dev, uint64_t bytes)
{
  uint64_t v = __atomic_load_n(&own_used[dev], __ATOMIC_RELAXED);
  while (!__atomic_compare_exchange_n(&own_used[dev], &v, v >= bytes ? v - bytes : 0, 1,
                                      __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
  }
}

static struct gpumem_region *attach(const char *state, char *err, int errlen)
{
  char path[4200];
  snprintf(path, sizeof path, "%s" STATE_SHARED, state);
  mkdir(path, 0777); /* usually there already; EEXIST is fine */
  snprintf(path, sizeof path, "%s" STATE_ACCOUNTING, state);
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
              * charged pointers and handles are emptied by their own fork resets) */
  memset(own_used, 0, sizeof own_used);
  memset(own_driver, 0, sizeof own_driver);
}

int region_open(const char *state, const uint64_t **generation, char *err, int errlen)
{
  region = attach(state, err, errlen);
  if (!region) return -1;
  *generation = &region->generation;
  if (join() < 0) return -2;
  fork_reset_register(after_fork_child);
  return 0;
}

int region_join(void)
{
  int s = slot;
  return s >= 0 ? s : join();
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

int region_reserve(int dev, uint64_t bytes, uint64_t limit)
{
  int s = slot;
  if (s < 0 && (s = join()) < 0) return -1;
  if (gpumem_accounting_try_reserve(region, s, dev, bytes, limit, 0) != 0 &&
      (!reclaim_due() || gpumem_accounting_try_reserve(region, s, dev, bytes, limit, 1) != 0))
    return -1;
  own_add(dev, bytes);
  return 0;
}

void budget_release(int ordinal, uint64_t bytes)
{
  int dev = device_index(ordinal);
  if (slot < 0 || dev < 0) return;
  gpumem_accounting_release(region, slot, dev, bytes);
  own_sub(dev, bytes);
}

void budget_refused(int ordinal)
{
  int dev = device_index(ordinal);
  if (region && dev >= 0) gpumem_accounting_refused(region, dev);
}

/* A launched graph's memory, a pool that grew past its reservation: bytes the driver already
 * holds are charged past the budget if need be, so others are refused until they are returned. */
void budget_charge_held(int ordinal, uint64_t bytes)
{
  int s = slot, dev = device_index(ordinal);
  if (s < 0 && (s = join()) < 0) return;
  if (dev < 0 || bytes == 0) return; /* none of the container's GPUs: nothing grows there */
  if (gpumem_accounting_try_reserve(region, s, dev, bytes, 0, 0) == 0) /* budget 0: never refused */
    own_add(dev, bytes);
}

int region_set_driver(int dev, uint64_t bytes, uint64_t limit)
{
  if (slot < 0 && join() < 0) return -1;
  /* join_lock: the exit handler gives the slot back under it, so a measurement from the
   * reconcile thread can never land in a slot that is no longer ours. */
  pthread_mutex_lock(&join_lock);
  int rc = -1;
  if (region && slot >= 0 && dev >= 0 && dev < GPUMEM_MAX_GPUS) {
    /* From what this process charged, never from what the slot says now. */
    uint64_t from = own_driver[dev];
    rc = gpumem_accounting_set_driver(region, slot, dev, from, bytes, limit);
    if (rc == 0) {
      own_driver[dev] = bytes;
      if (bytes > from) own_add(dev, bytes - from);
      else own_sub(dev, from - bytes);
    }
  }
  pthread_mutex_unlock(&join_lock);
  return rc;
}

/* The process's own record: a container that writes its slot cannot make the reconcile see more
 * allocations than were made (and so forget what the driver took) or fewer (and count it twice). */
void budget_own_charge(int ordinal, uint64_t *used, uint64_t *driver)
{
  *used = *driver = 0;
  int dev = device_index(ordinal);
  if (dev < 0) return;
  pthread_mutex_lock(&join_lock);
  if (region && slot >= 0) {
    *used = __atomic_load_n(&own_used[dev], __ATOMIC_RELAXED);
    *driver = own_driver[dev] <= *used ? own_driver[dev] : *used;
  }
  pthread_mutex_unlock(&join_lock);
}

void budget_mark_driver_unseen(void)
{
  pthread_mutex_lock(&join_lock);
  if (region && slot >= 0) gpumem_accounting_slot_flag(region, slot, GPUMEM_SLOT_DRIVER_UNSEEN, 1);
  pthread_mutex_unlock(&join_lock);
}

uint64_t region_used(int dev) { return __atomic_load_n(&region->used[dev], __ATOMIC_RELAXED); }

uint64_t budget_context_estimate(int ordinal)
{
  int dev = device_index(ordinal);
  if (!region || dev < 0) return 0;
  uint64_t v = __atomic_load_n(&region->context_estimate[dev], __ATOMIC_RELAXED);
  return v > (UINT64_C(4) << 30) ? UINT64_C(4) << 30 : v; /* the container can write it */
}

void budget_note_context(int ordinal, uint64_t bytes)
{
  int dev = device_index(ordinal);
  if (region && dev >= 0 && bytes)
    __atomic_store_n(&region->context_estimate[dev], bytes, __ATOMIC_RELAXED);
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
  standalone_dir_leave(region);
}
