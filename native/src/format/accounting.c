/* Creates and validates the shared accounting region: the layout both sides rely on. */
#include "accounting.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define REGION_SIZE ((uint64_t)sizeof(struct gpumem_region))

void gpumem_accounting_err(char *err, int errlen, const char *fmt, ...)
{
  if (!err || errlen <= 0) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, (size_t)errlen, fmt, ap);
  va_end(ap);
}

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
    gpumem_accounting_err(err, errlen, "path too long: %s", path);
    return -1;
  }
  int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd < 0) {
    gpumem_accounting_err(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
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
  if (rc) gpumem_accounting_err(err, errlen, "cannot create %s: %s", path, strerror(saved));
  return rc;
}

/* The message for a region of another layout version, read from its first bytes. */
static void version_err(const struct gpumem_region *r, char *err, int errlen)
{
  gpumem_accounting_err(err, errlen,
                        "accounting region has an unsupported version (%u; this gpumem reads "
                        "version %d: a container started under another gpumem release, restart it)",
                        (unsigned)r->version, GPUMEM_ACCOUNTING_VERSION);
}

int gpumem_accounting_validate(const struct gpumem_region *r, uint64_t size, char *err, int errlen)
{
  /* Size first: the fields below are only read from a buffer known to be a whole region. But a
   * region of another gpumem release (a container started before an upgrade) has another size
   * too: its magic and version, the first bytes, name it for what it is. */
  enum { PREFIX = offsetof(struct gpumem_region, version) + sizeof(uint32_t) };
  if (size != REGION_SIZE) {
    if (size >= PREFIX && memcmp(r->magic, GPUMEM_ACCOUNTING_MAGIC, 8) == 0 &&
        r->version != GPUMEM_ACCOUNTING_VERSION)
      version_err(r, err, errlen);
    else
      gpumem_accounting_err(err, errlen, "accounting region has the wrong size");
    return -1;
  }
  if (memcmp(r->magic, GPUMEM_ACCOUNTING_MAGIC, 8) != 0) {
    gpumem_accounting_err(err, errlen, "not a gpumem accounting region (bad magic)");
    return -1;
  }
  if (r->version != GPUMEM_ACCOUNTING_VERSION) {
    version_err(r, err, errlen);
    return -1;
  }
  if (r->total_size != REGION_SIZE || r->header_size != offsetof(struct gpumem_region, slots) ||
      r->slot_size != sizeof(struct gpumem_slot) || r->max_gpus != GPUMEM_MAX_GPUS ||
      r->max_slots != GPUMEM_MAX_SLOTS) {
    gpumem_accounting_err(err, errlen, "accounting region has wrong sizes or GPU/slot counts");
    return -1;
  }
  return 0;
}
