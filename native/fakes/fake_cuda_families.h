/* What fake_cuda.c shares with the other fake files: its device-memory accounting and current
 * context, and the family entry points its cuGetProcAddress table hands out. */
#ifndef FAKE_CUDA_FAMILIES_H
#define FAKE_CUDA_FAMILIES_H

#include "../src/common/cuda_api.h"

#define FAKE_HIDDEN __attribute__((visibility("hidden")))

/* In fake_cuda.c. */
FAKE_HIDDEN CUresult fake_current_device(CUdevice *dev);      /* the driver's checks, then the device */
FAKE_HIDDEN CUresult fake_check_device(CUdevice dev);         /* initialized and in range */
FAKE_HIDDEN CUresult fake_allocate(CUdeviceptr *dptr, uint64_t bytes); /* as cuMemAlloc_v2 */
FAKE_HIDDEN CUresult fake_allocate_managed(CUdeviceptr *dptr, uint64_t bytes);
FAKE_HIDDEN CUresult fake_charge(CUdevice dev, uint64_t bytes);   /* device memory, no address */
FAKE_HIDDEN void fake_uncharge(CUdevice dev, uint64_t bytes);

/* In fake_cuda_families.c: the pitch, managed, VMM and array entry points of cuda_api.h. */

#endif
