/* Prints which library dlsym(handle, "cuMemAlloc_v2") came from; built against the default
 * dlsym@GLIBC_2.34 and, with -DOLD_DLSYM, against dlsym@GLIBC_2.2.5 as older binaries are. */
#include <dlfcn.h>
#include <stdio.h>

#ifdef OLD_DLSYM
__asm__(".symver dlsym,dlsym@GLIBC_2.2.5");
#endif

int main(void)
{
  void *h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    printf("{\"error\":\"cannot dlopen libcuda.so.1\"}\n");
    return 1;
  }
  void *p = dlsym(h, "cuMemAlloc_v2");
  Dl_info info;
  const char *from = p && dladdr(p, &info) && info.dli_fname ? info.dli_fname : "";
  printf("{\"from\":\"%s\"}\n", from);
  return 0;
}
