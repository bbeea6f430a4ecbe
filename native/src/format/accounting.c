/* Creates, validates and updates the shared accounting region; the one definition of its layout. */
#include "accounting.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define REGION_SIZE ((uint64_t)sizeof(struct gpumem_region))

static void set_err(char *err, int errlen, const char *fmt, const char *a, const char *b)
{
  if (err && errlen > 0) snprintf(err, (size_t)errlen, fmt, a, b);
}

/* ---- liveness ---------------------------------------------------------------------------- */

/* Fields 3 (state) and 22 (start time) of /proc/<pid>/stat; -1 if it cannot be read. */
static int read_stat(pid_t pid, char *state, uint64_t *start)
{
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return -1;
  buf[n] = '\0';
  /* comm (field 2) may hold spaces and ')': fields are counted from the last ')'. */
  char *p = strrchr(buf, ')');
  if (!p || p[1] != ' ') return -1;
  *state = p[2];
  for (int field = 2; field < 22; field++) {
    p = strchr(p + 1, ' ');
    if (!p) return -1;
  }
  uint64_t v = 0;
  for (p++; *p >= '0' && *p <= '9'; p++) v = v * 10 + (uint64_t)(*p - '0');
  *start = v;
  return 0;
}

uint64_t gpumem_process_start_time(pid_t pid)
{
  char state;
  uint64_t start;
  return read_stat(pid, &state, &start) ? 0 : start;
}

/* Dead: gone, a different process under a reused pid, or a zombie (exited, not yet reaped by
 * a parent that may never reap it: kill(pid, 0) still succeeds, but the driver freed its
 * memory when it exited). */
static int slot_is_dead(const struct gpumem_slot *s)
{
  if (s->pid <= 0) return 0;
  if (kill(s->pid, 0) != 0 && errno == ESRCH) return 1; /* EPERM: alive, another uid */
  char state;
  uint64_t start;
  if (read_stat(s->pid, &state, &start)) return 0; /* no /proc view: trust kill() */
  if (state == 'Z' || state == 'X') return 1;
  return s->start_time && start != s->start_time; /* the pid was reused */
}

/* ---- locking ----------------------------------------------------------------------------- */

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

/* ---- slots and charges ------------------------------------------------------------------- */

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

int gpumem_accounting_set_driver(struct gpumem_region *r, int slot, int dev, uint64_t bytes,
                                 uint64_t budget)
{
  if (slot < 0 || slot >= GPUMEM_MAX_SLOTS || dev < 0 || dev >= GPUMEM_MAX_GPUS) return -1;
  if (lock_region(r)) return -1;
  struct gpumem_slot *s = &r->slots[slot];
  uint64_t old = s->driver[dev] <= s->used[dev] ? s->driver[dev] : s->used[dev];
  int rc = 0;
  if (bytes > old) {
    uint64_t grow = bytes - old;
    if (budget && !fits(r, dev, grow, budget)) rc = -1;
    else {
      s->used[dev] += grow;
      r->used[dev] += grow;
    }
  } else {
    uint64_t shrink = old - bytes;
    s->used[dev] -= shrink;
    r->used[dev] = r->used[dev] >= shrink ? r->used[dev] - shrink : 0;
  }
  if (!rc) s->driver[dev] = bytes;
  unlock_region(r);
  return rc;
}

void gpumem_accounting_slot_charge(struct gpumem_region *r, int slot, int dev, uint64_t *used,
                                   uint64_t *driver)
{
  *used = *driver = 0;
  if (slot < 0 || slot >= GPUMEM_MAX_SLOTS || dev < 0 || dev >= GPUMEM_MAX_GPUS) return;
  if (lock_region(r)) return;
  *used = r->slots[slot].used[dev];
  *driver = r->slots[slot].driver[dev] <= *used ? r->slots[slot].driver[dev] : *used;
  unlock_region(r);
}

void gpumem_accounting_slot_flag(struct gpumem_region *r, int slot, uint32_t flag, int on)
{
  if (slot < 0 || slot >= GPUMEM_MAX_SLOTS) return;
  if (on) __atomic_fetch_or(&r->slots[slot].flags, flag, __ATOMIC_RELAXED);
  else __atomic_fetch_and(&r->slots[slot].flags, ~flag, __ATOMIC_RELAXED);
}

/* ---- files ------------------------------------------------------------------------------- */

static int init_region(struct gpumem_region *r)
{
  memset(r, 0, sizeof *r);
  memcpy(r->magic, GPUMEM_ACCOUNTING_MAGIC, 8);
  r->version = GPUMEM_ACCOUNTING_VERSION;
  r->header_size = (uint32_t)offsetof(struct gpumem_region, slots);
  r->total_size = REGION_SIZE;
  r->max_gpus = GPUMEM_MAX_GPUS;
  r->max_slots = GPUMEM_MAX_SLOTS;
  r->slot_size = (uint32_t)sizeof(struct gpumem_slot);
  pthread_mutexattr_t attr;
  if (pthread_mutexattr_init(&attr)) return -1;
  int rc = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  if (!rc) rc = pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  if (!rc) rc = pthread_mutex_init(&r->lock.mutex, &attr);
  pthread_mutexattr_destroy(&attr);
  return rc ? -1 : 0;
}

int gpumem_accounting_create_file(const char *path, int replace, char *err, int errlen)
{
  static unsigned counter;
  char tmp[4096];
  if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.%d.%u", path, (int)getpid(),
                       __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED)) >= sizeof tmp) {
    set_err(err, errlen, "path too long: %s%s", path, "");
    return -1;
  }
  int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd < 0) {
    set_err(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
    return -1;
  }
  /* Built in memory and written out, so the file's blocks exist (no SIGBUS on a full tmpfs
   * later), then published under its final name in one step. */
  struct gpumem_region *r = malloc(sizeof *r);
  int rc = -1, saved = 0;
  if (r && init_region(r) == 0 && fchmod(fd, 0666) == 0) {
    const char *p = (const char *)r;
    size_t left = sizeof *r;
    while (left) {
      ssize_t w = write(fd, p, left);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) break;
      p += w;
      left -= (size_t)w;
    }
    rc = left ? -1 : 0;
  }
  if (rc) saved = errno ? errno : ENOMEM;
  free(r);
  if (close(fd) && !rc) { rc = -1; saved = errno; }
  if (!rc) {
    if (replace) {
      if (rename(tmp, path)) { rc = -1; saved = errno; }
    } else if (link(tmp, path) && errno != EEXIST) {
      rc = -1;
      saved = errno;
    }
  }
  if (rc || !replace) unlink(tmp);
  if (rc) set_err(err, errlen, "cannot create %s: %s", path, strerror(saved));
  return rc;
}

int gpumem_accounting_validate(const struct gpumem_region *r, uint64_t size, char *err, int errlen)
{
  /* Size first: the fields below are only read from a buffer known to be a whole region. */
  if (size != REGION_SIZE) {
    set_err(err, errlen, "accounting region has the wrong size%s%s", "", "");
    return -1;
  }
  if (memcmp(r->magic, GPUMEM_ACCOUNTING_MAGIC, 8) != 0) {
    set_err(err, errlen, "not a gpumem accounting region (bad magic)%s%s", "", "");
    return -1;
  }
  if (r->version != GPUMEM_ACCOUNTING_VERSION) {
    set_err(err, errlen, "accounting region has an unsupported version%s%s", "", "");
    return -1;
  }
  if (r->total_size != REGION_SIZE || r->header_size != offsetof(struct gpumem_region, slots) ||
      r->slot_size != sizeof(struct gpumem_slot) || r->max_gpus != GPUMEM_MAX_GPUS ||
      r->max_slots != GPUMEM_MAX_SLOTS) {
    set_err(err, errlen, "accounting region has wrong sizes or GPU/slot counts%s%s", "", "");
    return -1;
  }
  return 0;
}

struct gpumem_region *gpumem_accounting_attach(const char *path, int *missing, char *err,
                                               int errlen)
{
  if (missing) *missing = 0;
  int fd = open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    if (missing && errno == ENOENT) *missing = 1;
    set_err(err, errlen, "cannot open %s: %s", path, strerror(errno));
    return NULL;
  }
  off_t size = lseek(fd, 0, SEEK_END); /* not fstat: keeps clear of GLIBC_2.33 symbols */
  if (size != (off_t)REGION_SIZE) {
    close(fd);
    set_err(err, errlen, "%s: accounting region has the wrong size%s", path, "");
    return NULL;
  }
  void *m = mmap(NULL, REGION_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (m == MAP_FAILED) {
    set_err(err, errlen, "cannot map %s: %s", path, strerror(errno));
    return NULL;
  }
  char why[160];
  if (gpumem_accounting_validate(m, REGION_SIZE, why, sizeof why)) {
    munmap(m, REGION_SIZE);
    set_err(err, errlen, "%s: %s", path, why);
    return NULL;
  }
  return m;
}

/* Opens a region for the host. The container owns the directory it lies in, so the name may
 * have become a symlink, a FIFO (an open would block) or a device node (a write would land on a
 * disk): only a regular file is accepted. fstat through syscall(): glibc's fstat symbol is newer
 * than the 2.17 this code must load on. */
static int open_host_region(const char *path, int flags, char *err, int errlen)
{
  int fd = open(path, flags | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) {
    set_err(err, errlen, "cannot open %s: %s", path, strerror(errno));
    return -1;
  }
  struct stat st;
  if (syscall(SYS_fstat, fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    set_err(err, errlen, "%s: the accounting region is not a regular file%s", path, "");
    return -1;
  }
  return fd;
}

int gpumem_accounting_bump_generation(const char *path, char *err, int errlen)
{
  int fd = open_host_region(path, O_RDWR, err, errlen);
  if (fd < 0) return -1;
  /* The header is all that is read and checked: the size from the file, the rest copied out. */
  enum { HEAD = offsetof(struct gpumem_region, lock) };
  uint64_t buf[(HEAD + 7) / 8];
  const struct gpumem_region *head = (const struct gpumem_region *)buf; /* header fields only */
  off_t size = lseek(fd, 0, SEEK_END);
  ssize_t got = pread(fd, buf, HEAD, 0);
  char why[160];
  int rc = -1;
  if (got != (ssize_t)HEAD) {
    set_err(err, errlen, "%s: accounting region has the wrong size%s", path, "");
  } else if (size != (off_t)REGION_SIZE ||
             gpumem_accounting_validate(head, (uint64_t)size, why, sizeof why)) {
    if (size != (off_t)REGION_SIZE) snprintf(why, sizeof why, "accounting region has the wrong size");
    set_err(err, errlen, "%s: %s", path, why);
  } else {
    /* Any new value works: processes compare for inequality. One aligned 8-byte store. */
    uint64_t next;
    memcpy(&next, (const char *)buf + offsetof(struct gpumem_region, generation), sizeof next);
    next++;
    if (pwrite(fd, &next, sizeof next, offsetof(struct gpumem_region, generation)) ==
        (ssize_t)sizeof next)
      rc = 0;
    else
      set_err(err, errlen, "cannot write %s: %s", path, strerror(errno));
  }
  close(fd);
  return rc;
}

int gpumem_accounting_read(const char *path, struct gpumem_usage *u, char *err, int errlen)
{
  if (!path || !u) {
    set_err(err, errlen, "invalid arguments%s%s", "", "");
    return -1;
  }
  int fd = open_host_region(path, O_RDONLY, err, errlen);
  if (fd < 0) return -1;
  /* One byte more than a region: a longer file is detected as the wrong size. */
  size_t cap = sizeof(struct gpumem_region) + 1, got = 0;
  char *buf = calloc(1, cap);
  if (!buf) {
    close(fd);
    set_err(err, errlen, "out of memory%s%s", "", "");
    return -1;
  }
  for (;;) {
    ssize_t r = pread(fd, buf + got, cap - got, (off_t)got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      set_err(err, errlen, "cannot read %s: %s", path, strerror(errno));
      close(fd);
      free(buf);
      return -1;
    }
    if (r == 0) break;
    got += (size_t)r;
    if (got == cap) break;
  }
  close(fd);
  char why[160];
  const struct gpumem_region *r = (const struct gpumem_region *)buf;
  if (gpumem_accounting_validate(r, got, why, sizeof why)) {
    free(buf);
    set_err(err, errlen, "%s: %s", path, why);
    return -1;
  }
  memset(u, 0, sizeof *u);
  for (int g = 0; g < GPUMEM_MAX_GPUS; g++) u->used[g] = r->used[g];
  for (int i = 0; i < GPUMEM_MAX_SLOTS; i++) {
    const struct gpumem_slot *s = &r->slots[i];
    if (s->pid <= 0) continue;
    u->slots_used++;
    if (s->flags & GPUMEM_SLOT_DRIVER_UNSEEN) u->driver_unseen++;
    /* The container writes these: a sum that wraps is capped rather than trusted. */
    for (int g = 0; g < GPUMEM_MAX_GPUS; g++) {
      uint64_t d = s->driver[g] <= s->used[g] ? s->driver[g] : s->used[g];
      u->driver[g] = u->driver[g] > UINT64_MAX - d ? UINT64_MAX : u->driver[g] + d;
    }
  }
  free(buf);
  return 0;
}

int gpumem_accounting_read_usage(const char *path, uint64_t *used_per_gpu, int n, int *slots_used,
                                 char *err, int errlen)
{
  if (!path || n < 0 || n > GPUMEM_MAX_GPUS || (n > 0 && !used_per_gpu)) {
    set_err(err, errlen, "invalid arguments (n must be 0..64)%s%s", "", "");
    return -1;
  }
  struct gpumem_usage *u = malloc(sizeof *u);
  if (!u) {
    set_err(err, errlen, "out of memory%s%s", "", "");
    return -1;
  }
  int rc = gpumem_accounting_read(path, u, err, errlen);
  if (!rc) {
    for (int g = 0; g < n; g++) used_per_gpu[g] = u->used[g];
    if (slots_used) *slots_used = u->slots_used;
  }
  free(u);
  return rc;
}
