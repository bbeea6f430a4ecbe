/* The host's reader of the accounting region: a validated copy of it, and the generation bump,
 * through file descriptors only (the container owns the file and may change it at any time). */
#include "accounting_reader.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define REGION_SIZE ((uint64_t)sizeof(struct gpumem_region))

/* Opens a region for the host. The container owns the directory it lies in, so the name may
 * have become a symlink, a FIFO (an open would block) or a device node (a write would land on a
 * disk): only a regular file is accepted. fstat through syscall(): glibc's fstat symbol is newer
 * than the 2.17 this code must load on. */
static int open_host_region(const char *path, int flags, char *err, int errlen)
{
  int fd = open(path, flags | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) {
    gpumem_accounting_err(err, errlen, "cannot open %s: %s", path, strerror(errno));
    return -1;
  }
  struct stat st;
  if (syscall(SYS_fstat, fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    gpumem_accounting_err(err, errlen, "%s: the accounting region is not a regular file", path);
    return -1;
  }
  return fd;
}

/* Reads and checks the header of the open region at path, and gives its generation. The header
 * is all that is read and checked: the size from the file, the rest copied out. 0 or -1 with err. */
static int read_header(int fd, const char *path, uint64_t *generation, char *err, int errlen)
{
  enum { HEAD = offsetof(struct gpumem_region, lock) };
  uint64_t buf[(HEAD + 7) / 8];
  const struct gpumem_region *head = (const struct gpumem_region *)buf; /* header fields only */
  off_t size = lseek(fd, 0, SEEK_END);
  ssize_t got = pread(fd, buf, HEAD, 0);
  char why[160];
  if (got != (ssize_t)HEAD) {
    gpumem_accounting_err(err, errlen, "%s: accounting region has the wrong size", path);
    return -1;
  }
  if (size < 0 || gpumem_accounting_validate(head, (uint64_t)size, why, sizeof why)) {
    if (size < 0) snprintf(why, sizeof why, "accounting region has the wrong size");
    gpumem_accounting_err(err, errlen, "%s: %s", path, why);
    return -1;
  }
  memcpy(generation, (const char *)buf + offsetof(struct gpumem_region, generation),
         sizeof *generation);
  return 0;
}

int gpumem_accounting_bump_generation(const char *path, char *err, int errlen)
{
  int fd = open_host_region(path, O_RDWR, err, errlen);
  if (fd < 0) return -1;
  uint64_t next;
  int rc = read_header(fd, path, &next, err, errlen);
  if (!rc) {
    /* Any new value works: processes compare for inequality. One aligned 8-byte store. */
    next++;
    if (pwrite(fd, &next, sizeof next, offsetof(struct gpumem_region, generation)) !=
        (ssize_t)sizeof next) {
      gpumem_accounting_err(err, errlen, "cannot write %s: %s", path, strerror(errno));
      rc = -1;
    }
  }
  close(fd);
  return rc;
}

int gpumem_accounting_read_generation(const char *path, uint64_t *generation, char *err,
                                      int errlen)
{
  int fd = open_host_region(path, O_RDONLY, err, errlen);
  if (fd < 0) return -1;
  int rc = read_header(fd, path, generation, err, errlen);
  close(fd);
  return rc;
}

/* A validated copy of the region at path (free it), or NULL with err. Never maps the file: a
 * container could truncate it under us. */
static struct gpumem_region *read_copy(const char *path, char *err, int errlen)
{
  int fd = open_host_region(path, O_RDONLY, err, errlen);
  if (fd < 0) return NULL;
  /* One byte more than a region: a longer file is detected as the wrong size. */
  size_t cap = sizeof(struct gpumem_region) + 1, got = 0;
  char *buf = calloc(1, cap);
  if (!buf) {
    close(fd);
    gpumem_accounting_err(err, errlen, "out of memory");
    return NULL;
  }
  for (;;) {
    ssize_t r = pread(fd, buf + got, cap - got, (off_t)got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      gpumem_accounting_err(err, errlen, "cannot read %s: %s", path, strerror(errno));
      close(fd);
      free(buf);
      return NULL;
    }
    if (r == 0) break;
    got += (size_t)r;
    if (got == cap) break;
  }
  close(fd);
  char why[160];
  struct gpumem_region *r = (struct gpumem_region *)buf;
  if (gpumem_accounting_validate(r, got, why, sizeof why)) {
    free(buf);
    gpumem_accounting_err(err, errlen, "%s: %s", path, why);
    return NULL;
  }
  return r;
}

/* The container writes a slot's figures: driver-taken memory above what it says it holds is capped. */
static uint64_t slot_driver(const struct gpumem_slot *s, int g)
{
  return s->driver[g] <= s->used[g] ? s->driver[g] : s->used[g];
}

int gpumem_accounting_read(const char *path, struct gpumem_usage *u, char *err, int errlen)
{
  if (!path || !u) {
    gpumem_accounting_err(err, errlen, "invalid arguments");
    return -1;
  }
  struct gpumem_region *r = read_copy(path, err, errlen);
  if (!r) return -1;
  memset(u, 0, sizeof *u);
  for (int g = 0; g < GPUMEM_MAX_GPUS; g++) {
    u->used[g] = r->used[g];
    /* A peak below what is held now was scribbled (or zeroed): what is held now was reached. */
    u->peak[g] = r->peak[g] > r->used[g] ? r->peak[g] : r->used[g];
    u->refused[g] = r->refused[g];
  }
  for (int i = 0; i < GPUMEM_MAX_SLOTS; i++) {
    const struct gpumem_slot *s = &r->slots[i];
    if (s->pid <= 0) continue;
    u->slots_used++;
    if (s->flags & GPUMEM_SLOT_DRIVER_UNSEEN) u->driver_unseen++;
    /* The container writes these: a sum that wraps is capped rather than trusted. */
    for (int g = 0; g < GPUMEM_MAX_GPUS; g++) {
      uint64_t d = slot_driver(s, g);
      u->driver[g] = u->driver[g] > UINT64_MAX - d ? UINT64_MAX : u->driver[g] + d;
    }
  }
  free(r);
  return 0;
}

int gpumem_accounting_read_processes(const char *path, struct gpumem_process *out, int max,
                                     int *count, char *err, int errlen)
{
  if (!path || max < 0 || (max > 0 && !out) || !count) {
    gpumem_accounting_err(err, errlen, "invalid arguments");
    return -1;
  }
  struct gpumem_region *r = read_copy(path, err, errlen);
  if (!r) return -1;
  int n = 0;
  for (int i = 0; i < GPUMEM_MAX_SLOTS; i++) {
    const struct gpumem_slot *s = &r->slots[i];
    if (s->pid <= 0) continue;
    if (n < max) {
      struct gpumem_process *p = &out[n];
      p->pid = s->pid;
      p->driver_unseen = (s->flags & GPUMEM_SLOT_DRIVER_UNSEEN) ? 1 : 0;
      for (int g = 0; g < GPUMEM_MAX_GPUS; g++) {
        p->used[g] = s->used[g];
        p->driver[g] = slot_driver(s, g);
      }
    }
    n++;
  }
  *count = n;
  free(r);
  return 0;
}

int gpumem_accounting_read_usage(const char *path, uint64_t *used_per_gpu, int n, int *slots_used,
                                 char *err, int errlen)
{
  if (!path || n < 0 || n > GPUMEM_MAX_GPUS || (n > 0 && !used_per_gpu)) {
    gpumem_accounting_err(err, errlen, "invalid arguments (n must be 0..64)");
    return -1;
  }
  struct gpumem_usage *u = malloc(sizeof *u);
  if (!u) {
    gpumem_accounting_err(err, errlen, "out of memory");
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
