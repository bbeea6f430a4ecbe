/* The one explicit table of wrapped driver symbols; adding an API family means adding rows here.
 *
 * Later families slot in the same way: cuMemAllocPitch (3020 -> _v2), cuMemAllocManaged,
 * cuMemCreate/cuMemRelease (VMM), cuMemAllocAsync (11020; its per-thread-stream variant is looked
 * up with flags = 2 and wraps the same way), cuArrayCreate (3020 -> _v2), ... */
#include "symbols.h"

#include <dlfcn.h>
#include <string.h>

#include "../common/cuda.h"
#include "dlsym.h"
#include "export.h"

CUresult cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytesize);
CUresult cuMemFree_v2(CUdeviceptr dptr);
CUresult cuMemGetInfo_v2(size_t *free, size_t *total);
CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice dev);
CUresult cuGetProcAddress(const char *symbol, void **pfn, int cudaVersion, cuuint64_t flags);
CUresult cuGetProcAddress_v2(const char *symbol, void **pfn, int cudaVersion, cuuint64_t flags,
                             CUdriverProcAddressQueryResult *symbolStatus);

/* Indexed by enum gpumem_sym. Rows sharing a base are ordered by min_version. */
static struct gpumem_symbol table[SYM_COUNT] = {
  [SYM_cuMemAlloc_v2] = {"cuMemAlloc", "cuMemAlloc_v2", 3020, (void *)cuMemAlloc_v2, 0},
  [SYM_cuMemFree_v2] = {"cuMemFree", "cuMemFree_v2", 3020, (void *)cuMemFree_v2, 0},
  [SYM_cuMemGetInfo_v2] = {"cuMemGetInfo", "cuMemGetInfo_v2", 3020, (void *)cuMemGetInfo_v2, 0},
  [SYM_cuDeviceTotalMem_v2] = {"cuDeviceTotalMem", "cuDeviceTotalMem_v2", 3020,
                               (void *)cuDeviceTotalMem_v2, 0},
  [SYM_cuGetProcAddress] = {"cuGetProcAddress", "cuGetProcAddress", 11030,
                            (void *)cuGetProcAddress, 0},
  [SYM_cuGetProcAddress_v2] = {"cuGetProcAddress", "cuGetProcAddress_v2", 12000,
                               (void *)cuGetProcAddress_v2, 0},
};

struct gpumem_symbol *symbols_by_name(const char *name)
{
  if (name[0] != 'c' || name[1] != 'u') return NULL; /* cheap exit for the common case */
  for (int i = 0; i < SYM_COUNT; i++)
    if (strcmp(table[i].name, name) == 0) return &table[i];
  return NULL;
}

struct gpumem_symbol *symbols_by_base(const char *base, int cuda_version)
{
  if (!base || base[0] != 'c' || base[1] != 'u') return NULL;
  struct gpumem_symbol *best = NULL;
  for (int i = 0; i < SYM_COUNT; i++)
    if (table[i].min_version <= cuda_version && strcmp(table[i].base, base) == 0 &&
        (!best || table[i].min_version > best->min_version))
      best = &table[i];
  return best;
}

void symbols_set_real(struct gpumem_symbol *s, void *real)
{
  if (real && real != s->wrapper) __atomic_store_n(&s->real, real, __ATOMIC_RELEASE);
}

/* RTLD_NEXT finds a driver the program is linked with; a driver only dlopen()ed (RTLD_LOCAL,
 * as cudart does) is found through its handle instead. */
void *symbols_driver(const char *name)
{
  gpumem_dlsym_init();
  void *p = gpumem_real_dlsym(RTLD_NEXT, name);
  if (!p) {
    void *h = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_NOLOAD);
    if (h) {
      p = gpumem_real_dlsym(h, name);
      dlclose(h); /* NOLOAD took a reference; the driver stays loaded */
    }
  }
  return p;
}

void *symbols_real(enum gpumem_sym id)
{
  void *p = __atomic_load_n(&table[id].real, __ATOMIC_ACQUIRE);
  if (p) return p;
  symbols_set_real(&table[id], symbols_driver(table[id].name));
  return __atomic_load_n(&table[id].real, __ATOMIC_ACQUIRE);
}
