/* The accounting region's own small tmpfs on the host: a container writes its region through a
 * read-write bind mount, so it could grow the file without bound on the host's /run; on a
 * filesystem sized for the region (and a second copy while it is replaced) it cannot. */
#ifndef GPUMEM_FORMAT_REGION_FS_H
#define GPUMEM_FORMAT_REGION_FS_H

/* Mounts that tmpfs at dir (an empty directory); its root is 0755 so container users of any uid reach the region through the read-only directory mount, while the host keeps other users out one level up (the state directory is 0700); 0, or -1 with a message. */
int gpumem_region_fs_mount(const char *dir, char *err, int errlen);

/* Unmounts it (lazily: a container may still hold the region); 0 also when nothing is mounted
 * there. Never follows a link at dir. */
int gpumem_region_fs_unmount(const char *dir);

#endif
