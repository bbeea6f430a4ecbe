/* Allocation and free wrappers: reserve in the shared region before the driver is asked. */
#include "../common/cuda.h"
#include "../format/config.h"
#include "budget.h"
#include "charge.h"
#include "current_device.h"
#include "export.h"
#include "ptrmap.h"
#include "reconcile.h"
#include "symbols.h"

GPUMEM_EXPORT CUresult cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytesize)
{
  cuMemAlloc_v2_fn real = (cuMemAlloc_v2_fn)symbols_real(SYM_cuMemAlloc_v2);
  if (!real) return CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND;
  enum budget_mode m = budget_mode();
  if (m == BUDGET_CLOSED) return CUDA_ERROR_OUT_OF_MEMORY;
  CUdevice dev;
  /* Let the driver produce its own error for bad arguments or a missing context. */
  if (m == BUDGET_OFF || !dptr || bytesize == 0 || current_device(&dev) != CUDA_SUCCESS ||
      dev < 0 || dev >= GPUMEM_MAX_GPUS)
    return real(dptr, bytesize);
  if (budget_reserve(dev, bytesize)) return charge_refused(dev);
  CUresult rc = real(dptr, bytesize);
  return charge_settle(rc, dev, bytesize, *dptr, &charge_pointers);
}

GPUMEM_EXPORT CUresult cuMemFree_v2(CUdeviceptr dptr)
{
  cuMemFree_v2_fn real = (cuMemFree_v2_fn)symbols_real(SYM_cuMemFree_v2);
  if (!real) return CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND;
  uint64_t size;
  int dev;
  /* Taken out before the driver frees it: the driver may hand the same address to another
   * thread's allocation the moment it is free. */
  if (!ptrmap_take(dptr, &size, &dev)) return real(dptr);
  if (!(dev & CHARGE_MANAGED)) return charge_return(real(dptr), dev, size, dptr, &charge_pointers);
  dev &= ~CHARGE_MANAGED;
  reconcile_note_managed(dev, -(int64_t)size); /* a failed free records it (and this) again */
  return charge_return(real(dptr), dev, size, dptr, &charge_managed);
}
