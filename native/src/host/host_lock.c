/* The host-wide lock that serialises admission (one decision at a time over the host's GPUs): an
 * flock on a file, which the kernel drops when its holder dies, so a killed agent never wedges the
 * next one. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "../format/quote.h"
#include "gpumem_host.h"

#define EXPORT __attribute__((visibility("default")))

static int lock_fail(char *err, int errlen, const char *what, const char *path, int e)
{
  if (!err || errlen <= 0) return -1;
  char q[GPUMEM_QUOTE_MAX];
  gpumem_quote(q, sizeof q, path, strlen(path), GPUMEM_QUOTE_VALUE);
  snprintf(err, (size_t)errlen, "cannot %s the lock file %s: %s", what, q,
           e == ELOOP ? "it is a symbolic link (refused: use a regular file)" : strerror(e));
  return -1;
}

EXPORT int gpumem_lock_acquire(const char *path, int *fd, char *err, int errlen)
{
  if (!path || !*path || !fd) {
    if (err && errlen > 0) snprintf(err, (size_t)errlen, "invalid arguments: a lock file path and fd");
    return -1;
  }
  /* O_NOFOLLOW: a link planted where the lock goes must not make us create or lock another file.
   * O_CLOEXEC: a program the holder starts must not inherit the lock and outlive it. */
  int f = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (f < 0) return lock_fail(err, errlen, "open", path, errno);
  while (flock(f, LOCK_EX) != 0) {
    if (errno == EINTR) continue;
    int e = errno;
    close(f);
    return lock_fail(err, errlen, "lock", path, e);
  }
  *fd = f;
  return 0;
}

EXPORT int gpumem_lock_release(int fd)
{
  if (fd < 0) return -1;
  /* Unlocked before the close: a child forked while it was held shares the open file and would
   * otherwise keep the lock for as long as it lives. */
  int rc = flock(fd, LOCK_UN);
  return close(fd) == 0 && rc == 0 ? 0 : -1;
}
