/* glibc's own dlsym, which everything in the interposer uses instead of calling dlsym by name. */
#ifndef GPUMEM_DLSYM_H
#define GPUMEM_DLSYM_H

extern void *(*gpumem_real_dlsym)(void *handle, const char *name);

/* Resolves gpumem_real_dlsym (idempotent, cheap after the first call). */
void gpumem_dlsym_init(void);

#endif
