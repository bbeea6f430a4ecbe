/* cuMemCreate / cuMemRelease (virtual memory management): the physical memory is charged when a
 * handle is created on a device and returned when the handle is released.
 *
 * Not wrapped, on purpose: cuMemAddressReserve, cuMemMap, cuMemUnmap and cuMemSetAccess only
 * move address space, not memory. cuMemImportFromShareableHandle gives this process a handle to
 * memory that its exporter created and already pays for; charging the importer too would count
 * it twice (an import from another container is paid for by that container). Imported handles
 * are not in our map, so releasing them passes through. */
#include "../common/cuda.h"
#include "../format/config.h"
#include "budget.h"
#include "export.h"
#include "handlemap.h"
#include "symbols.h"

static struct handlemap handles = HANDLEMAP_INIT;

GPUMEM_EXPORT CUresult cuMemCreate(CUmemGenericAllocationHandle *handle, size_t size,
                                   const CUmemAllocationProp *prop, unsigned long long flags)
{
  cuMemCreate_fn real = (cuMemCreate_fn)symbols_real(SYM_cuMemCreate);
  if (!real) return CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND;
  /* Host-located handles (HOST, HOST_NUMA, ...) use no device memory: never charged. The device
   * is the one the handle names, not the current context's. */
  if (!handle || !prop || size == 0 || prop->location.type != CU_MEM_LOCATION_TYPE_DEVICE)
    return real(handle, size, prop, flags);
  enum budget_mode m = budget_mode();
  if (m == BUDGET_CLOSED) return CUDA_ERROR_OUT_OF_MEMORY;
  int dev = prop->location.id;
  if (m == BUDGET_OFF || dev < 0 || dev >= GPUMEM_MAX_GPUS) return real(handle, size, prop, flags);
  if (budget_reserve(dev, size)) return CUDA_ERROR_OUT_OF_MEMORY;
  CUresult rc = real(handle, size, prop, flags);
  if (rc != CUDA_SUCCESS) {
    budget_release(dev, size);
    return rc;
  }
  if (handlemap_insert(&handles, *handle, size, dev)) { /* could never uncharge it */
    cuMemRelease_fn real_release = (cuMemRelease_fn)symbols_real(SYM_cuMemRelease);
    if (real_release) real_release(*handle);
    budget_release(dev, size);
    return CUDA_ERROR_OUT_OF_MEMORY;
  }
  return rc;
}

GPUMEM_EXPORT CUresult cuMemRelease(CUmemGenericAllocationHandle handle)
{
  cuMemRelease_fn real = (cuMemRelease_fn)symbols_real(SYM_cuMemRelease);
  if (!real) return CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND;
  uint64_t size;
  int dev;
  /* Taken out first: the driver may hand the same handle value to another thread at once. */
  if (!handlemap_take(&handles, handle, &size, &dev)) return real(handle);
  CUresult rc = real(handle);
  if (rc == CUDA_SUCCESS) budget_release(dev, size);
  else handlemap_insert(&handles, handle, size, dev);
  return rc;
}
