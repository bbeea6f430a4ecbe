/* The accounting region's tmpfs (region_fs.h): sized from the region's layout, so the bound is
 * defined where the layout is. */
#include "region_fs.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "accounting.h"

#ifndef UMOUNT_NOFOLLOW
#define UMOUNT_NOFOLLOW 8
#endif

int gpumem_region_fs_mount(const char *dir, char *err, int errlen)
{
  long page = sysconf(_SC_PAGESIZE);
  if (page <= 0) page = 4096;
  /* The region, a second copy while it is replaced (temp file, then rename), and a page for
   * the directory; a handful of inodes: the two files and the root. */
  unsigned long long pages = (2 * sizeof(struct gpumem_region) + (unsigned long long)page - 1) /
                             (unsigned long long)page + 1;
  char opts[96];
  snprintf(opts, sizeof opts, "size=%llu,nr_inodes=8,mode=0755,uid=0,gid=0",
           pages * (unsigned long long)page);
  if (mount("gpumem-region", dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts) != 0) {
    if (err && errlen > 0)
      snprintf(err, (size_t)errlen, "cannot mount the accounting region's tmpfs at %s: %s", dir,
               strerror(errno));
    return -1;
  }
  return 0;
}

int gpumem_region_fs_unmount(const char *dir)
{
  if (umount2(dir, MNT_DETACH | UMOUNT_NOFOLLOW) == 0) return 0;
  /* EINVAL: not a mount point (never mounted, or already gone); ENOENT: no directory. */
  return errno == EINVAL || errno == ENOENT ? 0 : -1;
}
