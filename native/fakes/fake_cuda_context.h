/* What fake_cuda.c shares with fake_cuda_context.c (contexts and their memory) and
 * fake_cuda_shared.c (the cross-process view of the fake devices, FAKE_CUDA_SHARED). */
#ifndef FAKE_CUDA_CONTEXT_H
#define FAKE_CUDA_CONTEXT_H

#include <stdint.h>

#include "../src/common/cuda_api.h"

#define FAKE_CTX_HIDDEN __attribute__((visibility("hidden")))

/* In fake_cuda_shared.c: records this process's use of dev, all of it and what NVML counts of it
 * (managed memory left out), when FAKE_CUDA_SHARED names a file; a no-op otherwise. */
FAKE_CTX_HIDDEN void fake_shared_note(CUdevice dev, uint64_t used_now, uint64_t nvml_now);

/* In fake_cuda.c: the host device that ordinal dev (checked by the caller) is, after
 * CUDA_VISIBLE_DEVICES. */
FAKE_CTX_HIDDEN int fake_host_device(CUdevice dev);

/* In fake_cuda_context.c: the context and UUID entry points of cuda_api.h. */

/* The fake host GPU i's UUID, the same in the fake driver and the fake NVML. */
static inline void fake_gpu_uuid(int i, unsigned char out[16])
{
  for (int b = 0; b < 16; b++) out[b] = 0;
  out[0] = 0xfa;
  out[1] = 0x4e;
  out[15] = (unsigned char)i;
}

#endif
