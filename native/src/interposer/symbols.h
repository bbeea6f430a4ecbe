/* The one table of driver functions gpumem wraps, and where their real addresses are kept. */
#ifndef GPUMEM_SYMBOLS_H
#define GPUMEM_SYMBOLS_H

enum gpumem_sym {
  SYM_cuMemAlloc_v2,
  SYM_cuMemFree_v2,
  SYM_cuMemGetInfo_v2,
  SYM_cuDeviceTotalMem_v2,
  SYM_cuGetProcAddress,
  SYM_cuGetProcAddress_v2,
  /* pitch, managed, VMM, arrays */
  SYM_cuMemAllocPitch_v2,
  SYM_cuMemAllocManaged,
  SYM_cuMemCreate,
  SYM_cuMemRelease,
  SYM_cuMemMap,
  SYM_cuMemUnmap,
  SYM_cuMemRetainAllocationHandle,
  SYM_cuArrayCreate_v2,
  SYM_cuArray3DCreate_v2,
  SYM_cuArrayDestroy,
  SYM_cuMipmappedArrayCreate,
  SYM_cuMipmappedArrayDestroy,
  /* stream-ordered */
  SYM_cuMemAllocAsync,
  SYM_cuMemAllocAsync_ptsz,
  SYM_cuMemFreeAsync,
  SYM_cuMemFreeAsync_ptsz,
  SYM_cuMemAllocFromPoolAsync,
  SYM_cuMemAllocFromPoolAsync_ptsz,
  SYM_cuMemPoolCreate,
  SYM_cuMemPoolDestroy,
  SYM_cuMemPoolTrimTo,
  SYM_cuGraphInstantiate_v2,
  SYM_cuGraphInstantiate_12000, /* base cuGraphInstantiate from 12000 = cuGraphInstantiateWithFlags */
  SYM_cuGraphInstantiateWithFlags,
  SYM_cuGraphInstantiateWithParams,
  SYM_cuGraphInstantiateWithParams_ptsz,
  SYM_cuGraphLaunch,
  SYM_cuGraphLaunch_ptsz,
  SYM_cuGraphExecDestroy,
  SYM_cuDeviceGraphMemTrim,
  /* contexts and NVML */
  SYM_cuDevicePrimaryCtxRetain,
  SYM_cuDevicePrimaryCtxRelease_v2,
  SYM_cuDevicePrimaryCtxReset_v2,
  SYM_cuCtxCreate_v2,
  SYM_cuCtxCreate_v3,
  SYM_cuCtxCreate_v4,
  SYM_cuCtxDestroy_v2,
  SYM_nvmlDeviceGetMemoryInfo,
  SYM_nvmlDeviceGetMemoryInfo_v2,
  /* driver-taken memory: code loads, launches, limits */
  SYM_cuModuleLoad,
  SYM_cuModuleLoadData,
  SYM_cuModuleLoadDataEx,
  SYM_cuModuleLoadFatBinary,
  SYM_cuLibraryLoadData,
  SYM_cuLibraryLoadFromFile,
  SYM_cuLaunchKernel,
  SYM_cuLaunchKernel_ptsz,
  SYM_cuLaunchKernelEx,
  SYM_cuLaunchKernelEx_ptsz,
  SYM_cuLaunchCooperativeKernel,
  SYM_cuLaunchCooperativeKernel_ptsz,
  SYM_cuCtxSetLimit,
  SYM_COUNT
};

struct gpumem_symbol {
  const char *base;  /* the name cuGetProcAddress is asked for */
  const char *name;  /* the exported, versioned name (dlsym, -lcuda) */
  int min_version;   /* lowest cudaVersion at which base means name */
  void *wrapper;     /* ours */
  void *real;        /* the driver's; set before the wrapper is ever handed out */
  int ptsz;          /* 1: the row answers look-ups with flags CU_GET_PROC_ADDRESS_PER_THREAD_
                      * DEFAULT_STREAM (a _ptsz/_ptds entry); rows without a variant answer all */
};

/* Row whose exported name is name, or NULL. */
struct gpumem_symbol *symbols_by_name(const char *name);

/* Row that cuGetProcAddress(base, cudaVersion, flags) resolves to, or NULL (not ours at that
 * version): with flags = 2 a ptsz row of that base if there is one, else the plain row. */
struct gpumem_symbol *symbols_by_base(const char *base, int cuda_version, unsigned long long flags);

/* Records the driver's address for a row; ignores our own wrapper (RTLD_DEFAULT finds ours). */
void symbols_set_real(struct gpumem_symbol *s, void *real);

/* The driver's address for a row, resolved on first need when we were reached via -lcuda. */
void *symbols_real(enum gpumem_sym id);

#endif
