/* Asks the driver for the current context's device, which is what an allocation is charged to. */
#include "current_device.h"

#include "driver_fns.h"

CUresult current_device(CUdevice *dev)
{
  cuCtxGetDevice_fn f = (cuCtxGetDevice_fn)driver_fn(DRV_cuCtxGetDevice);
  return f ? f(dev) : CUDA_ERROR_NOT_INITIALIZED;
}
