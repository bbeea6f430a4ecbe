/* Asks the driver for the current context's device, which is what an allocation is charged to. */
#include "current_device.h"

#include "symbols.h"

CUresult current_device(CUdevice *dev)
{
  static cuCtxGetDevice_fn real;
  cuCtxGetDevice_fn f = __atomic_load_n(&real, __ATOMIC_ACQUIRE);
  if (!f) {
    f = (cuCtxGetDevice_fn)symbols_driver("cuCtxGetDevice");
    if (!f) return CUDA_ERROR_NOT_INITIALIZED;
    __atomic_store_n(&real, f, __ATOMIC_RELEASE);
  }
  return f(dev);
}
