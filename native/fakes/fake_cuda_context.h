/* What fake_cuda.c shares with fake_cuda_context.c (contexts and their memory) and
 * fake_cuda_shared.c (the storm test's cross-process view of the fake device). */
#ifndef FAKE_CUDA_CONTEXT_H
#define FAKE_CUDA_CONTEXT_H

#include <stdint.h>

#include "../src/common/cuda.h"

#define FAKE_CTX_HIDDEN __attribute__((visibility("hidden")))

/* In fake_cuda.c: a context's memory taken from / given back to the fake device. */
FAKE_CTX_HIDDEN CUresult fake_context_take(CUdevice dev, uint64_t bytes);
FAKE_CTX_HIDDEN void fake_context_give(CUdevice dev, uint64_t bytes);

/* In fake_cuda_shared.c: records this process's use of dev (no-op without FAKE_CUDA_SHARED). */
FAKE_CTX_HIDDEN void fake_shared_note(CUdevice dev, uint64_t used_now);

/* In fake_cuda_context.c. */
CUresult cuDevicePrimaryCtxRetain(CUcontext *pctx, CUdevice dev);
CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev);
CUresult cuDevicePrimaryCtxReset_v2(CUdevice dev);
CUresult cuDevicePrimaryCtxGetState(CUdevice dev, unsigned int *flags, int *active);
CUresult cuCtxCreate_v2(CUcontext *pctx, unsigned int flags, CUdevice dev);
CUresult cuCtxCreate_v3(CUcontext *pctx, CUexecAffinityParam *params, int n, unsigned int flags,
                        CUdevice dev);
CUresult cuCtxCreate_v4(CUcontext *pctx, CUctxCreateParams *params, unsigned int flags,
                        CUdevice dev);
CUresult cuCtxDestroy_v2(CUcontext ctx);
CUresult cuCtxPushCurrent_v2(CUcontext ctx);
CUresult cuCtxPopCurrent_v2(CUcontext *pctx);
CUresult cuDeviceGetUuid(CUuuid *uuid, CUdevice dev);
CUresult cuDeviceGetUuid_v2(CUuuid *uuid, CUdevice dev);

/* The fake GPU i's UUID, the same in the fake driver and the fake NVML. */
static inline void fake_gpu_uuid(int i, unsigned char out[16])
{
  for (int b = 0; b < 16; b++) out[b] = 0;
  out[0] = 0xfa;
  out[1] = 0x4e;
  out[15] = (unsigned char)i;
}

#endif
