/* The driver functions gpumem calls but does not wrap, in one table, each looked up once. */
#ifndef GPUMEM_DRIVER_FNS_H
#define GPUMEM_DRIVER_FNS_H

enum driver_fn {
  DRV_cuCtxGetDevice,
  DRV_cuCtxGetLimit,
  DRV_cuDeviceGet,
  DRV_cuDeviceGetAttribute,
  DRV_cuDeviceGetCount,
  DRV_cuDeviceGetUuid,
  DRV_cuDeviceGetUuid_v2,
  DRV_cuDevicePrimaryCtxGetState,
  DRV_cuDevicePrimaryCtxRelease, /* v1: only when the _v2 row has no address */
  /* code and launches */
  DRV_cuModuleUnload,
  DRV_cuLibraryUnload,
  DRV_cuFuncGetAttribute,
  DRV_cuKernelGetAttribute,
  /* arrays */
  DRV_cuArrayGetMemoryRequirements,
  DRV_cuMipmappedArrayGetMemoryRequirements,
  /* streams, pools, graphs */
  DRV_cuStreamGetDevice,
  DRV_cuStreamIsCapturing,
  DRV_cuStreamIsCapturing_ptsz,
  DRV_cuStreamSynchronize,
  DRV_cuStreamSynchronize_ptsz,
  DRV_cuMemPoolGetAttribute,
  DRV_cuDeviceGetMemPool,
  DRV_cuGraphGetNodes,
  DRV_cuGraphNodeGetType,
  DRV_cuGraphMemAllocNodeGetParams,
  DRV_cuGraphChildGraphNodeGetGraph,
  DRV_cuDeviceGetGraphMemAttribute,
  DRV_COUNT
};

/* The driver's function, or NULL when the loaded driver does not have it (e.g. cuStreamGetDevice
 * before CUDA 12.8). After the first answer from a loaded driver it costs one atomic load. */
void *driver_fn(enum driver_fn id);

/* Any name in the loaded driver, looked up now (symbols.c keeps what it finds for its rows). */
void *driver_lookup(const char *name);

#endif
