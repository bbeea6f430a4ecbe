/* cuCtxSetLimit: raising the stack size, the device malloc heap or the printf FIFO makes the
 * driver take memory (the stack: the growth times every thread the device runs at once, 264 MiB
 * per KiB on an H200). The growth is reserved before the driver is asked, so a raise that does
 * not fit gets CUDA_ERROR_OUT_OF_MEMORY and the device never holds it. */
#include "../common/cuda_api.h"
#include "budget.h"
#include "charge.h"
#include "current_device.h"
#include "driver_fns.h"
#include "export.h"
#include "local_memory.h"
#include "reconcile.h"
#include "symbols.h"

GPUMEM_EXPORT CUresult cuCtxSetLimit(CUlimit limit, size_t value)
{
  cuCtxSetLimit_fn real = (cuCtxSetLimit_fn)symbols_real(SYM_cuCtxSetLimit);
  if (!real) return CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND;
  CUdevice dev;
  if (budget_mode() != BUDGET_ENFORCE || current_device(&dev) != CUDA_SUCCESS)
    return real(limit, value);
  if (limit == CU_LIMIT_STACK_SIZE) {
    uint64_t grown;
    if (local_memory_grow(dev, value, &grown)) return charge_refused(dev);
    CUresult rc = real(limit, value);
    if (rc != CUDA_SUCCESS) local_memory_undo(dev, value, grown);
    else reconcile_now(dev, RECONCILE_FORCE);
    return rc;
  }
  if (limit != CU_LIMIT_MALLOC_HEAP_SIZE && limit != CU_LIMIT_PRINTF_FIFO_SIZE)
    return real(limit, value);
  cuCtxGetLimit_fn get = (cuCtxGetLimit_fn)driver_fn(DRV_cuCtxGetLimit);
  size_t now = 0;
  if (!get || get(&now, limit) != CUDA_SUCCESS) now = 0;
  uint64_t grow = value > now ? value - now : 0;
  if (reconcile_provision(dev, grow)) return charge_refused(dev);
  CUresult rc = real(limit, value);
  if (rc != CUDA_SUCCESS) reconcile_unprovision(dev, grow);
  else reconcile_now(dev, RECONCILE_FORCE);
  return rc;
}
