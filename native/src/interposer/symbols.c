/* The one explicit table of wrapped driver symbols; adding an API family means adding rows here
 * (a per-thread-stream variant is one more row with the same base and ptsz = 1). */
#include "symbols.h"

#include <string.h>

#include "../common/cuda.h"
#include "driver_fns.h"
#include "export.h"

/* Our wrappers carry the driver's names: their prototypes are the driver's. */
#include "../common/cuda_api.h"
int nvmlDeviceGetMemoryInfo(void *device, void *memory);
int nvmlDeviceGetMemoryInfo_v2(void *device, void *memory);

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
  /* pitch, managed, VMM, arrays */
  [SYM_cuMemAllocPitch_v2] = {"cuMemAllocPitch", "cuMemAllocPitch_v2", 3020,
                              (void *)cuMemAllocPitch_v2, 0},
  [SYM_cuMemAllocManaged] = {"cuMemAllocManaged", "cuMemAllocManaged", 6000,
                             (void *)cuMemAllocManaged, 0},
  [SYM_cuMemCreate] = {"cuMemCreate", "cuMemCreate", 10020, (void *)cuMemCreate, 0},
  [SYM_cuMemRelease] = {"cuMemRelease", "cuMemRelease", 10020, (void *)cuMemRelease, 0},
  [SYM_cuMemMap] = {"cuMemMap", "cuMemMap", 10020, (void *)cuMemMap, 0},
  [SYM_cuMemUnmap] = {"cuMemUnmap", "cuMemUnmap", 10020, (void *)cuMemUnmap, 0},
  [SYM_cuMemRetainAllocationHandle] = {"cuMemRetainAllocationHandle", "cuMemRetainAllocationHandle",
                                       11000, (void *)cuMemRetainAllocationHandle, 0},
  [SYM_cuArrayCreate_v2] = {"cuArrayCreate", "cuArrayCreate_v2", 3020, (void *)cuArrayCreate_v2, 0},
  [SYM_cuArray3DCreate_v2] = {"cuArray3DCreate", "cuArray3DCreate_v2", 3020,
                              (void *)cuArray3DCreate_v2, 0},
  [SYM_cuArrayDestroy] = {"cuArrayDestroy", "cuArrayDestroy", 2000, (void *)cuArrayDestroy, 0},
  [SYM_cuMipmappedArrayCreate] = {"cuMipmappedArrayCreate", "cuMipmappedArrayCreate", 5000,
                                  (void *)cuMipmappedArrayCreate, 0},
  [SYM_cuMipmappedArrayDestroy] = {"cuMipmappedArrayDestroy", "cuMipmappedArrayDestroy", 5000,
                                   (void *)cuMipmappedArrayDestroy, 0},
  /* stream-ordered: the _ptsz rows share the base and answer flags = 2 (see symbols_by_base) */
  [SYM_cuMemAllocAsync] = {"cuMemAllocAsync", "cuMemAllocAsync", 11020, (void *)cuMemAllocAsync, 0, 0},
  [SYM_cuMemAllocAsync_ptsz] = {"cuMemAllocAsync", "cuMemAllocAsync_ptsz", 11020,
                                (void *)cuMemAllocAsync_ptsz, 0, 1},
  [SYM_cuMemFreeAsync] = {"cuMemFreeAsync", "cuMemFreeAsync", 11020, (void *)cuMemFreeAsync, 0, 0},
  [SYM_cuMemFreeAsync_ptsz] = {"cuMemFreeAsync", "cuMemFreeAsync_ptsz", 11020,
                               (void *)cuMemFreeAsync_ptsz, 0, 1},
  [SYM_cuMemAllocFromPoolAsync] = {"cuMemAllocFromPoolAsync", "cuMemAllocFromPoolAsync", 11020,
                                   (void *)cuMemAllocFromPoolAsync, 0, 0},
  [SYM_cuMemAllocFromPoolAsync_ptsz] = {"cuMemAllocFromPoolAsync", "cuMemAllocFromPoolAsync_ptsz",
                                        11020, (void *)cuMemAllocFromPoolAsync_ptsz, 0, 1},
  [SYM_cuMemPoolCreate] = {"cuMemPoolCreate", "cuMemPoolCreate", 11020, (void *)cuMemPoolCreate, 0, 0},
  [SYM_cuMemPoolDestroy] = {"cuMemPoolDestroy", "cuMemPoolDestroy", 11020,
                            (void *)cuMemPoolDestroy, 0, 0},
  [SYM_cuMemPoolTrimTo] = {"cuMemPoolTrimTo", "cuMemPoolTrimTo", 11020, (void *)cuMemPoolTrimTo, 0, 0},
  [SYM_cuGraphInstantiate_v2] = {"cuGraphInstantiate", "cuGraphInstantiate_v2", 11000,
                                 (void *)cuGraphInstantiate_v2, 0, 0},
  /* from CUDA 12 the base name means the 3-argument WithFlags entry (two rows, one name) */
  [SYM_cuGraphInstantiate_12000] = {"cuGraphInstantiate", "cuGraphInstantiateWithFlags", 12000,
                                    (void *)cuGraphInstantiateWithFlags, 0, 0},
  [SYM_cuGraphInstantiateWithFlags] = {"cuGraphInstantiateWithFlags", "cuGraphInstantiateWithFlags",
                                       11040, (void *)cuGraphInstantiateWithFlags, 0, 0},
  [SYM_cuGraphInstantiateWithParams] = {"cuGraphInstantiateWithParams",
                                        "cuGraphInstantiateWithParams", 12000,
                                        (void *)cuGraphInstantiateWithParams, 0, 0},
  [SYM_cuGraphInstantiateWithParams_ptsz] = {"cuGraphInstantiateWithParams",
                                             "cuGraphInstantiateWithParams_ptsz", 12000,
                                             (void *)cuGraphInstantiateWithParams_ptsz, 0, 1},
  [SYM_cuGraphLaunch] = {"cuGraphLaunch", "cuGraphLaunch", 10000, (void *)cuGraphLaunch, 0, 0},
  [SYM_cuGraphLaunch_ptsz] = {"cuGraphLaunch", "cuGraphLaunch_ptsz", 10000,
                              (void *)cuGraphLaunch_ptsz, 0, 1},
  [SYM_cuGraphExecDestroy] = {"cuGraphExecDestroy", "cuGraphExecDestroy", 10000,
                              (void *)cuGraphExecDestroy, 0, 0},
  [SYM_cuDeviceGraphMemTrim] = {"cuDeviceGraphMemTrim", "cuDeviceGraphMemTrim", 11040,
                                (void *)cuDeviceGraphMemTrim, 0, 0},
  /* contexts and NVML (NVML names: reached by dlsym or linking only; base = name) */
  [SYM_cuDevicePrimaryCtxRetain] = {"cuDevicePrimaryCtxRetain", "cuDevicePrimaryCtxRetain", 7000,
                                    (void *)cuDevicePrimaryCtxRetain, 0},
  [SYM_cuDevicePrimaryCtxRelease_v2] = {"cuDevicePrimaryCtxRelease", "cuDevicePrimaryCtxRelease_v2",
                                        11000, (void *)cuDevicePrimaryCtxRelease_v2, 0},
  [SYM_cuDevicePrimaryCtxReset_v2] = {"cuDevicePrimaryCtxReset", "cuDevicePrimaryCtxReset_v2",
                                      11000, (void *)cuDevicePrimaryCtxReset_v2, 0},
  [SYM_cuCtxCreate_v2] = {"cuCtxCreate", "cuCtxCreate_v2", 3020, (void *)cuCtxCreate_v2, 0},
  [SYM_cuCtxCreate_v3] = {"cuCtxCreate", "cuCtxCreate_v3", 11040, (void *)cuCtxCreate_v3, 0},
  [SYM_cuCtxCreate_v4] = {"cuCtxCreate", "cuCtxCreate_v4", 12050, (void *)cuCtxCreate_v4, 0},
  [SYM_cuCtxDestroy_v2] = {"cuCtxDestroy", "cuCtxDestroy_v2", 4000, (void *)cuCtxDestroy_v2, 0},
  [SYM_nvmlDeviceGetMemoryInfo] = {"nvmlDeviceGetMemoryInfo", "nvmlDeviceGetMemoryInfo", 0,
                                   (void *)nvmlDeviceGetMemoryInfo, 0},
  [SYM_nvmlDeviceGetMemoryInfo_v2] = {"nvmlDeviceGetMemoryInfo_v2", "nvmlDeviceGetMemoryInfo_v2", 0,
                                      (void *)nvmlDeviceGetMemoryInfo_v2, 0},
  /* driver-taken memory: code loads, launches (_ptsz rows answer flags = 2), limits */
  [SYM_cuModuleLoad] = {"cuModuleLoad", "cuModuleLoad", 2000, (void *)cuModuleLoad, 0, 0},
  [SYM_cuModuleLoadData] = {"cuModuleLoadData", "cuModuleLoadData", 2000,
                            (void *)cuModuleLoadData, 0, 0},
  [SYM_cuModuleLoadDataEx] = {"cuModuleLoadDataEx", "cuModuleLoadDataEx", 2010,
                              (void *)cuModuleLoadDataEx, 0, 0},
  [SYM_cuModuleLoadFatBinary] = {"cuModuleLoadFatBinary", "cuModuleLoadFatBinary", 2000,
                                 (void *)cuModuleLoadFatBinary, 0, 0},
  [SYM_cuLibraryLoadData] = {"cuLibraryLoadData", "cuLibraryLoadData", 12000,
                             (void *)cuLibraryLoadData, 0, 0},
  [SYM_cuLibraryLoadFromFile] = {"cuLibraryLoadFromFile", "cuLibraryLoadFromFile", 12000,
                                 (void *)cuLibraryLoadFromFile, 0, 0},
  [SYM_cuLaunchKernel] = {"cuLaunchKernel", "cuLaunchKernel", 4000, (void *)cuLaunchKernel, 0, 0},
  [SYM_cuLaunchKernel_ptsz] = {"cuLaunchKernel", "cuLaunchKernel_ptsz", 7000,
                               (void *)cuLaunchKernel_ptsz, 0, 1},
  [SYM_cuLaunchKernelEx] = {"cuLaunchKernelEx", "cuLaunchKernelEx", 11060,
                            (void *)cuLaunchKernelEx, 0, 0},
  [SYM_cuLaunchKernelEx_ptsz] = {"cuLaunchKernelEx", "cuLaunchKernelEx_ptsz", 11060,
                                 (void *)cuLaunchKernelEx_ptsz, 0, 1},
  [SYM_cuLaunchCooperativeKernel] = {"cuLaunchCooperativeKernel", "cuLaunchCooperativeKernel",
                                     9000, (void *)cuLaunchCooperativeKernel, 0, 0},
  [SYM_cuLaunchCooperativeKernel_ptsz] = {"cuLaunchCooperativeKernel",
                                          "cuLaunchCooperativeKernel_ptsz", 9000,
                                          (void *)cuLaunchCooperativeKernel_ptsz, 0, 1},
  [SYM_cuCtxSetLimit] = {"cuCtxSetLimit", "cuCtxSetLimit", 3010, (void *)cuCtxSetLimit, 0, 0},
};

struct gpumem_symbol *symbols_by_name(const char *name)
{
  /* cheap exit for the common case: only cu* and nvml* names are ours */
  if (!((name[0] == 'c' && name[1] == 'u') || (name[0] == 'n' && name[1] == 'v'))) return NULL;
  for (int i = 0; i < SYM_COUNT; i++)
    if (strcmp(table[i].name, name) == 0) return &table[i];
  return NULL;
}

/* The driver answers flags = 2 with the _ptsz entry where one exists and with the plain entry
 * otherwise, so a ptsz row wins for flags = 2 and plain rows answer everything else. */
struct gpumem_symbol *symbols_by_base(const char *base, int cuda_version, unsigned long long flags)
{
  if (!base || base[0] != 'c' || base[1] != 'u') return NULL;
  int want_ptsz = flags == CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM;
  struct gpumem_symbol *best = NULL;
  for (int i = 0; i < SYM_COUNT; i++) {
    struct gpumem_symbol *s = &table[i];
    if (s->min_version > cuda_version || strcmp(s->base, base) != 0) continue;
    if (s->ptsz && !want_ptsz) continue;
    if (!best || s->ptsz > best->ptsz ||
        (s->ptsz == best->ptsz && s->min_version > best->min_version))
      best = s;
  }
  return best;
}

void symbols_set_real(struct gpumem_symbol *s, void *real)
{
  if (real && real != s->wrapper) __atomic_store_n(&s->real, real, __ATOMIC_RELEASE);
}

void *symbols_real(enum gpumem_sym id)
{
  void *p = __atomic_load_n(&table[id].real, __ATOMIC_ACQUIRE);
  if (p) return p;
  symbols_set_real(&table[id], driver_lookup(table[id].name));
  return __atomic_load_n(&table[id].real, __ATOMIC_ACQUIRE);
}
