/* Finds glibc's own dlsym by symbol version, once: our exported dlsym (dlsym.c) shadows the name. */
#include "libc_dlsym.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <unistd.h>

void *(*gpumem_real_dlsym)(void *handle, const char *name) __attribute__((visibility("hidden")));

void gpumem_dlsym_init(void)
{
  if (__atomic_load_n(&gpumem_real_dlsym, __ATOMIC_ACQUIRE)) return;
  /* GLIBC_2.2.5 exists in every x86_64 glibc (a compat alias of the same function on >= 2.34). */
  void *p = dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.2.5");
  if (!p) p = dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.34");
  if (!p) {
    static const char msg[] = "gpumem: cannot find glibc's dlsym; aborting\n";
    ssize_t ignored = write(2, msg, sizeof msg - 1);
    (void)ignored;
    abort();
  }
  __atomic_store_n(&gpumem_real_dlsym, (void *(*)(void *, const char *))p, __ATOMIC_RELEASE);
}
