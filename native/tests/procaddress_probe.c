/* Asks cuGetProcAddress_v2 for each "symbol:version:flags" argument and prints, as one JSON
 * line, the result, symbolStatus and which library and symbol the returned pointer is. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/common/cuda.h"

int main(int argc, char **argv)
{
  void *h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  cuGetProcAddress_v2_fn get = h ? (cuGetProcAddress_v2_fn)dlsym(h, "cuGetProcAddress_v2") : NULL;
  if (!get) {
    printf("{\"error\":\"no cuGetProcAddress_v2\"}\n");
    return 1;
  }
  printf("[");
  for (int i = 1; i < argc; i++) {
    char sym[128];
    int version = 0;
    unsigned long long flags = 0;
    if (sscanf(argv[i], "%127[^:]:%d:%llu", sym, &version, &flags) < 2) return 2;
    void *p = (void *)1;
    int status = -1;
    CUresult rc = get(sym, &p, version, flags, &status);
    Dl_info info;
    const char *from = "null", *name = "null";
    if (p && dladdr(p, &info) && info.dli_fname) {
      if (info.dli_sname) name = info.dli_sname;
      from = strrchr(info.dli_fname, '/');
      from = from ? from + 1 : info.dli_fname;
    }
    printf("%s{\"query\":\"%s\",\"rc\":%d,\"status\":%d,\"from\":\"%s\",\"name\":\"%s\"}",
           i > 1 ? "," : "", argv[i], rc, status, from, name);
  }
  printf("]\n");
  return 0;
}
