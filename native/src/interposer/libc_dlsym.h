/* glibc's own dlsym, which everything in the interposer calls instead of dlsym by name (that
 * name is our interposer, dlsym.c). */
#ifndef GPUMEM_LIBC_DLSYM_H
#define GPUMEM_LIBC_DLSYM_H

extern void *(*gpumem_real_dlsym)(void *handle, const char *name) __attribute__((visibility("hidden")));

/* Resolves gpumem_real_dlsym (idempotent, cheap after the first call). */
void gpumem_dlsym_init(void);

#endif
