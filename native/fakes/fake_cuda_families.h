/* What fake_cuda.c shares with fake_cuda_families.c: its device-memory accounting and current
 * context, and the family entry points its cuGetProcAddress table hands out. */
#ifndef FAKE_CUDA_FAMILIES_H
#define FAKE_CUDA_FAMILIES_H

#include "../src/common/cuda.h"

#define FAKE_HIDDEN __attribute__((visibility("hidden")))

/* In fake_cuda.c. */
FAKE_HIDDEN CUresult fake_current_device(CUdevice *dev);      /* the driver's checks, then the device */
FAKE_HIDDEN CUresult fake_check_device(CUdevice dev);         /* initialized and in range */
FAKE_HIDDEN CUresult fake_allocate(CUdeviceptr *dptr, uint64_t bytes); /* as cuMemAlloc_v2 */
FAKE_HIDDEN CUresult fake_charge(CUdevice dev, uint64_t bytes);   /* device memory, no address */
FAKE_HIDDEN void fake_uncharge(CUdevice dev, uint64_t bytes);

/* In fake_cuda_families.c. */
CUresult cuDeviceGetAttribute(int *pi, CUdevice_attribute attrib, CUdevice dev);
CUresult cuMemAllocPitch_v2(CUdeviceptr *dptr, size_t *pPitch, size_t WidthInBytes, size_t Height,
                            unsigned int ElementSizeBytes);
CUresult cuMemAllocManaged(CUdeviceptr *dptr, size_t bytesize, unsigned int flags);
CUresult cuMemGetAllocationGranularity(size_t *granularity, const CUmemAllocationProp *prop,
                                       int option);
CUresult cuMemCreate(CUmemGenericAllocationHandle *handle, size_t size,
                     const CUmemAllocationProp *prop, unsigned long long flags);
CUresult cuMemRelease(CUmemGenericAllocationHandle handle);
CUresult cuMemAddressReserve(CUdeviceptr *ptr, size_t size, size_t alignment, CUdeviceptr addr,
                             unsigned long long flags);
CUresult cuMemAddressFree(CUdeviceptr ptr, size_t size);
CUresult cuMemMap(CUdeviceptr ptr, size_t size, size_t offset, CUmemGenericAllocationHandle handle,
                  unsigned long long flags);
CUresult cuMemUnmap(CUdeviceptr ptr, size_t size);
CUresult cuMemRetainAllocationHandle(CUmemGenericAllocationHandle *handle, void *addr);
CUresult cuArrayCreate_v2(CUarray *pHandle, const CUDA_ARRAY_DESCRIPTOR *desc);
CUresult cuArray3DCreate_v2(CUarray *pHandle, const CUDA_ARRAY3D_DESCRIPTOR *desc);
CUresult cuArrayDestroy(CUarray hArray);
CUresult cuArrayGetMemoryRequirements(CUDA_ARRAY_MEMORY_REQUIREMENTS *req, CUarray array,
                                      CUdevice device);
CUresult cuMipmappedArrayCreate(CUmipmappedArray *pHandle, const CUDA_ARRAY3D_DESCRIPTOR *desc,
                                unsigned int numMipmapLevels);
CUresult cuMipmappedArrayDestroy(CUmipmappedArray hMipmappedArray);
CUresult cuMipmappedArrayGetMemoryRequirements(CUDA_ARRAY_MEMORY_REQUIREMENTS *req,
                                               CUmipmappedArray mipmap, CUdevice device);

#endif
