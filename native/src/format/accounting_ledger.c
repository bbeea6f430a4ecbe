/* The interposer's ledger in the accounting region: slots taken and given back, charges reserved
 * and released under the region's robust lock, dead processes' slots reclaimed. */
#include "accounting_ledger.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "liveness.h"

#define REGION_SIZE ((uint64_t)sizeof(struct gpumem_region))

/* Dead: a slot whose process is gone (liveness.c). */
static int slot_is_dead(const struct gpumem_slot *s)
{
  return s->pid > 0 && gpumem_process_gone(s->pid, s->start_time);
}

static void recompute_totals(struct gpumem_region *r)
{
  for (int g = 0; g < GPUMEM_MAX_GPUS; g++) {
    uint64_t sum = 0;
    for (int i = 0; i < GPUMEM_MAX_SLOTS; i++)
      if (r->slots[i].pid > 0) sum += r->slots[i].used[g];
    r->used[g] = sum;
  }
}

/* A holder that died mid-update leaves the totals possibly stale; each slot field is one store,
 * so the slots are consistent and the totals are rebuilt from them. */
static int lock_region(struct gpumem_region *r)
{
  int rc = pthread_mutex_lock(&r->lock.mutex);
  if (rc == EOWNERDEAD) {
    recompute_totals(r);
    rc = pthread_mutex_consistent(&r->lock.mutex);
  }
  return rc;
}

static void unlock_region(struct gpumem_region *r) { pthread_mutex_unlock(&r->lock.mutex); }

static void clear_slot(struct gpumem_region *r, struct gpumem_slot *s)
{
  for (int g = 0; g < GPUMEM_MAX_GPUS; g++) {
    uint64_t u = s->used[g];
    r->used[g] = r->used[g] >= u ? r->used[g] - u : 0;
    s->used[g] = 0;
    s->driver[g] = 0;
  }
  s->flags = 0;
  s->start_time = 0;
  s->pid = 0;
}

static int reclaim_locked(struct gpumem_region *r)
{
  int n = 0;
  for (int i = 0; i < GPUMEM_MAX_SLOTS; i++) {
    struct gpumem_slot *s = &r->slots[i];
    if (s->pid < 0) s->pid = 0;
    if (slot_is_dead(s)) {
      clear_slot(r, s);
      n++;
    }
  }
  return n;
}

int gpumem_accounting_reclaim(struct gpumem_region *r)
{
  if (lock_region(r)) return 0;
  int n = reclaim_locked(r);
  unlock_region(r);
  return n;
}

int gpumem_accounting_join(struct gpumem_region *r, pid_t pid, uint64_t start_time)
{
  if (lock_region(r)) return -1;
  reclaim_locked(r);
  int found = -1;
  for (int i = 0; i < GPUMEM_MAX_SLOTS; i++) {
    struct gpumem_slot *s = &r->slots[i];
    /* Same pid and start time: our own image before an exec, whose memory the driver freed. */
    if (s->pid == pid && s->start_time == start_time) clear_slot(r, s);
    if (s->pid == 0 && found < 0) found = i;
  }
  if (found >= 0) {
    r->slots[found].start_time = start_time;
    r->slots[found].pid = pid;
  }
  unlock_region(r);
  return found;
}

void gpumem_accounting_leave(struct gpumem_region *r, int slot)
{
  if (slot < 0 || slot >= GPUMEM_MAX_SLOTS || lock_region(r)) return;
  clear_slot(r, &r->slots[slot]);
  unlock_region(r);
}

/* The container-wide peak follows every charge recorded: an atomic max, since the field is only
 * a report that anything in the container may also write. Called with the lock held, after
 * used[dev] moved up; one load and, only at a new peak, a compare-and-swap. */
static void raise_peak(struct gpumem_region *r, int dev)
{
  uint64_t now = r->used[dev], seen = __atomic_load_n(&r->peak[dev], __ATOMIC_RELAXED);
  while (now > seen && !__atomic_compare_exchange_n(&r->peak[dev], &seen, now, 1,
                                                    __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
  }
}

void gpumem_accounting_refused(struct gpumem_region *r, int dev)
{
  if (r && dev >= 0 && dev < GPUMEM_MAX_GPUS)
    __atomic_add_fetch(&r->refused[dev], 1, __ATOMIC_RELAXED);
}

static int fits(const struct gpumem_region *r, int dev, uint64_t bytes, uint64_t budget)
{
  return budget == 0 || (bytes <= budget && r->used[dev] <= budget - bytes);
}

int gpumem_accounting_try_reserve(struct gpumem_region *r, int slot, int dev, uint64_t bytes,
                                  uint64_t budget, int reclaim)
{
  if (slot < 0 || slot >= GPUMEM_MAX_SLOTS || dev < 0 || dev >= GPUMEM_MAX_GPUS) return -1;
  if (lock_region(r)) return -1;
  int ok = fits(r, dev, bytes, budget);
  if (!ok && reclaim && reclaim_locked(r) > 0) ok = fits(r, dev, bytes, budget);
  if (ok) {
    r->slots[slot].used[dev] += bytes; /* slot first: it is the source of truth */
    r->used[dev] += bytes;
    raise_peak(r, dev);
  }
  unlock_region(r);
  return ok ? 0 : -1;
}

int gpumem_accounting_reserve(struct gpumem_region *r, int slot, int dev, uint64_t bytes,
                              uint64_t budget)
{
  return gpumem_accounting_try_reserve(r, slot, dev, bytes, budget, 1);
}

void gpumem_accounting_release(struct gpumem_region *r, int slot, int dev, uint64_t bytes)
{
  if (slot < 0 || slot >= GPUMEM_MAX_SLOTS || dev < 0 || dev >= GPUMEM_MAX_GPUS) return;
  if (lock_region(r)) return;
  struct gpumem_slot *s = &r->slots[slot];
  s->used[dev] = s->used[dev] >= bytes ? s->used[dev] - bytes : 0;
  r->used[dev] = r->used[dev] >= bytes ? r->used[dev] - bytes : 0;
  unlock_region(r);
}

/* a + b, held at the top: numbers a container scribbled must not wrap to small ones. */
static uint64_t add_capped(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }

static uint64_t sub_floored(uint64_t a, uint64_t b) { return a >= b ? a - b : 0; }

int gpumem_accounting_set_driver(struct gpumem_region *r, int slot, int dev, uint64_t from,
                                 uint64_t to, uint64_t budget)
{
  if (slot < 0 || slot >= GPUMEM_MAX_SLOTS || dev < 0 || dev >= GPUMEM_MAX_GPUS) return -1;
  if (lock_region(r)) return -1;
  struct gpumem_slot *s = &r->slots[slot];
  int rc = 0;
  if (to > from) {
    uint64_t grow = to - from;
    if (budget && !fits(r, dev, grow, budget)) rc = -1;
    else {
      s->used[dev] = add_capped(s->used[dev], grow);
      r->used[dev] = add_capped(r->used[dev], grow);
      raise_peak(r, dev);
    }
  } else {
    s->used[dev] = sub_floored(s->used[dev], from - to);
    r->used[dev] = sub_floored(r->used[dev], from - to);
  }
  if (!rc) s->driver[dev] = to;
  unlock_region(r);
  return rc;
}

void gpumem_accounting_slot_flag(struct gpumem_region *r, int slot, uint32_t flag, int on)
{
  if (slot < 0 || slot >= GPUMEM_MAX_SLOTS) return;
  if (on) __atomic_fetch_or(&r->slots[slot].flags, flag, __ATOMIC_RELAXED);
  else __atomic_fetch_and(&r->slots[slot].flags, ~flag, __ATOMIC_RELAXED);
}

struct gpumem_region *gpumem_accounting_attach(const char *path, int *missing, char *err,
                                               int errlen)
{
  if (missing) *missing = 0;
  int fd = open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    if (missing && errno == ENOENT) *missing = 1;
    gpumem_accounting_err(err, errlen, "cannot open %s: %s", path, strerror(errno));
    return NULL;
  }
  off_t size = lseek(fd, 0, SEEK_END); /* not fstat: keeps clear of GLIBC_2.33 symbols */
  if (size != (off_t)REGION_SIZE) {
    /* Its magic and version say more than its size: another release's region is named so. */
    uint64_t head[2] = {0, 0};
    ssize_t got = size > 0 ? pread(fd, head, sizeof head, 0) : 0;
    char why[160] = "accounting region has the wrong size";
    if (got == (ssize_t)sizeof head)
      gpumem_accounting_validate((const struct gpumem_region *)head, (uint64_t)size, why, sizeof why);
    close(fd);
    gpumem_accounting_err(err, errlen, "%s: %s", path, why);
    return NULL;
  }
  void *m = mmap(NULL, REGION_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (m == MAP_FAILED) {
    gpumem_accounting_err(err, errlen, "cannot map %s: %s", path, strerror(errno));
    return NULL;
  }
  char why[160];
  if (gpumem_accounting_validate(m, REGION_SIZE, why, sizeof why)) {
    munmap(m, REGION_SIZE);
    gpumem_accounting_err(err, errlen, "%s: %s", path, why);
    return NULL;
  }
  return m;
}
