/* What a program is told about device memory: the budget as the total, the budget left as free. */
#include "../common/cuda.h"
#include "budget.h"
#include "current_device.h"
#include "export.h"
#include "symbols.h"

GPUMEM_EXPORT CUresult cuMemGetInfo_v2(size_t *free, size_t *total)
{
  cuMemGetInfo_v2_fn real = (cuMemGetInfo_v2_fn)symbols_real(SYM_cuMemGetInfo_v2);
  if (!real) return CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND;
  CUresult rc = real(free, total);
  enum budget_mode m;
  if (rc != CUDA_SUCCESS || !free || !total || (m = budget_mode()) == BUDGET_OFF) return rc;
  if (m == BUDGET_CLOSED) {
    *free = 0;
    return rc;
  }
  CUdevice dev;
  uint64_t used, limit;
  if (current_device(&dev) != CUDA_SUCCESS || (limit = budget_limit(dev, &used)) == 0) return rc;
  if (limit < *total) *total = (size_t)limit; /* a budget above the device cannot be granted */
  uint64_t left = used < *total ? *total - used : 0; /* never negative */
  if (left < *free) *free = (size_t)left;
  return rc;
}

GPUMEM_EXPORT CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice dev)
{
  cuDeviceTotalMem_v2_fn real = (cuDeviceTotalMem_v2_fn)symbols_real(SYM_cuDeviceTotalMem_v2);
  if (!real) return CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND;
  CUresult rc = real(bytes, dev);
  if (rc != CUDA_SUCCESS || !bytes || budget_mode() != BUDGET_ENFORCE) return rc;
  uint64_t used, limit = budget_limit(dev, &used);
  if (limit && limit < *bytes) *bytes = (size_t)limit;
  return rc;
}
