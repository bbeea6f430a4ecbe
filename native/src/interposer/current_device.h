/* Which device the calling thread's current context is on, as the driver tells it. */
#ifndef GPUMEM_CURRENT_DEVICE_H
#define GPUMEM_CURRENT_DEVICE_H

#include "../common/cuda.h"

/* Real cuCtxGetDevice; CUDA_SUCCESS with *dev set, or the driver's error (e.g. no context). */
CUresult current_device(CUdevice *dev);

#endif
