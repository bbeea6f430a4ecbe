/* Finds driver functions by name in the loaded driver, and keeps the table of those gpumem calls
 * without wrapping them, so no wrapper pays a look-up (a dlopen and the loader lock) per call. */
#include "driver_fns.h"

#include <dlfcn.h>
#include <stddef.h>

#include "libc_dlsym.h"

static const char *const names[DRV_COUNT] = {
  [DRV_cuCtxGetDevice] = "cuCtxGetDevice",
  [DRV_cuCtxGetLimit] = "cuCtxGetLimit",
  [DRV_cuDeviceGet] = "cuDeviceGet",
  [DRV_cuDeviceGetAttribute] = "cuDeviceGetAttribute",
  [DRV_cuDeviceGetCount] = "cuDeviceGetCount",
  [DRV_cuDeviceGetUuid] = "cuDeviceGetUuid",
  [DRV_cuDeviceGetUuid_v2] = "cuDeviceGetUuid_v2",
  [DRV_cuDevicePrimaryCtxGetState] = "cuDevicePrimaryCtxGetState",
  [DRV_cuDevicePrimaryCtxRelease] = "cuDevicePrimaryCtxRelease",
  [DRV_cuModuleUnload] = "cuModuleUnload",
  [DRV_cuLibraryUnload] = "cuLibraryUnload",
  [DRV_cuFuncGetAttribute] = "cuFuncGetAttribute",
  [DRV_cuKernelGetAttribute] = "cuKernelGetAttribute",
  [DRV_cuArrayGetMemoryRequirements] = "cuArrayGetMemoryRequirements",
  [DRV_cuMipmappedArrayGetMemoryRequirements] = "cuMipmappedArrayGetMemoryRequirements",
  [DRV_cuStreamGetDevice] = "cuStreamGetDevice",
  [DRV_cuStreamIsCapturing] = "cuStreamIsCapturing",
  [DRV_cuStreamIsCapturing_ptsz] = "cuStreamIsCapturing_ptsz",
  [DRV_cuStreamSynchronize] = "cuStreamSynchronize",
  [DRV_cuStreamSynchronize_ptsz] = "cuStreamSynchronize_ptsz",
  [DRV_cuMemPoolGetAttribute] = "cuMemPoolGetAttribute",
  [DRV_cuDeviceGetMemPool] = "cuDeviceGetMemPool",
  [DRV_cuGraphGetNodes] = "cuGraphGetNodes",
  [DRV_cuGraphNodeGetType] = "cuGraphNodeGetType",
  [DRV_cuGraphMemAllocNodeGetParams] = "cuGraphMemAllocNodeGetParams",
  [DRV_cuGraphChildGraphNodeGetGraph] = "cuGraphChildGraphNodeGetGraph",
  [DRV_cuDeviceGetGraphMemAttribute] = "cuDeviceGetGraphMemAttribute",
};

/* NULL: not looked up yet, or no driver was loaded when it was; ABSENT: the driver lacks it. */
#define ABSENT ((void *)1)
static void *cache[DRV_COUNT];

/* RTLD_NEXT finds a driver the program is linked with; a driver only dlopen()ed (RTLD_LOCAL,
 * as cudart does) is found through its handle instead. *loaded: a driver was there to ask. */
static void *look_up(const char *name, int *loaded)
{
  gpumem_dlsym_init();
  void *p = gpumem_real_dlsym(RTLD_NEXT, name);
  *loaded = p != NULL;
  if (!p) {
    void *h = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_NOLOAD);
    if (h) {
      *loaded = 1;
      p = gpumem_real_dlsym(h, name);
      dlclose(h); /* NOLOAD took a reference; the driver stays loaded */
    }
  }
  return p;
}

void *driver_lookup(const char *name)
{
  int loaded;
  return look_up(name, &loaded);
}

void *driver_fn(enum driver_fn id)
{
  void *f = __atomic_load_n(&cache[id], __ATOMIC_ACQUIRE);
  if (!f) {
    int loaded;
    f = look_up(names[id], &loaded);
    /* Absence is remembered only when a driver answered: one loaded later must still be found. */
    if (f || loaded) __atomic_store_n(&cache[id], f ? f : ABSENT, __ATOMIC_RELEASE);
  }
  return f == ABSENT ? NULL : f;
}
