/* What a program is told about device memory: the budget as the total, the budget left as free;
 * failed closed, nothing free of the budget last known (cuda_meminfo.c and nvml_meminfo.c agree).
 * A device that is none of the container's GPUs shows as failed closed: total 0, nothing free. */
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
  CUdevice dev;
  int have_dev = current_device(&dev) == CUDA_SUCCESS;
  if (m == BUDGET_ENFORCE && have_dev && !budget_device_known(dev)) m = BUDGET_CLOSED;
  if (m == BUDGET_CLOSED) {
    uint64_t shown = have_dev ? budget_closed_total(dev) : 0;
    if (shown < *total) *total = (size_t)shown;
    *free = 0;
    return rc;
  }
  uint64_t used, limit;
  if (!have_dev || (limit = budget_limit(dev, &used)) == 0) return rc;
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
  enum budget_mode m;
  if (rc != CUDA_SUCCESS || !bytes || (m = budget_mode()) == BUDGET_OFF) return rc;
  uint64_t used, limit;
  if (m == BUDGET_ENFORCE && !budget_device_known(dev)) m = BUDGET_CLOSED;
  if (m == BUDGET_CLOSED) limit = budget_closed_total(dev); /* 0 when none is known */
  else if ((limit = budget_limit(dev, &used)) == 0) return rc; /* no budget on this device */
  if (limit < *bytes) *bytes = (size_t)limit;
  return rc;
}
