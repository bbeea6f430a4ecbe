/* cuMemCreate / cuMemMap / cuMemUnmap / cuMemRetainAllocationHandle / cuMemRelease (virtual
 * memory management): the physical memory is charged when a handle is created on a device and
 * returned when the driver frees it, i.e. at the last of its releases and unmaps (the CUDA samples
 * release a handle right after mapping it and keep using the mapping).
 *
 * Not wrapped, on purpose: cuMemAddressReserve and cuMemSetAccess only move address space.
 * cuMemImportFromShareableHandle gives this process a handle to memory that its exporter created
 * and already pays for; charging the importer too would count it twice (an import from another
 * container is paid for by that container). Imported handles are not in our records, so mapping
 * and releasing them passes through. */
#include "../common/cuda.h"
#include "../format/config.h"
#include "budget.h"
#include "charge.h"
#include "export.h"
#include "symbols.h"
#include "vmm_track.h"

static int record_handle(void *map, uint64_t key, uint64_t bytes, int dev)
{
  (void)map;
  return vmm_track_create(key, bytes, dev);
}

static CUresult release_handle(uint64_t key)
{
  cuMemRelease_fn f = (cuMemRelease_fn)symbols_real(SYM_cuMemRelease);
  return f ? f(key) : CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND;
}

static const struct charge_book handle_book = {record_handle, 0, release_handle};

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
  if (budget_reserve(dev, size)) return charge_refused(dev);
  CUresult rc = real(handle, size, prop, flags);
  return charge_settle(rc, dev, size, *handle, &handle_book);
}

GPUMEM_EXPORT CUresult cuMemRelease(CUmemGenericAllocationHandle handle)
{
  cuMemRelease_fn real = (cuMemRelease_fn)symbols_real(SYM_cuMemRelease);
  if (!real) return CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND;
  struct vmm_alloc *a = vmm_track_release_begin(handle);
  if (!a) return real(handle);
  CUresult rc = real(handle);
  vmm_track_release_end(a, rc == CUDA_SUCCESS);
  return rc;
}

GPUMEM_EXPORT CUresult cuMemMap(CUdeviceptr ptr, size_t size, size_t offset,
                                CUmemGenericAllocationHandle handle, unsigned long long flags)
{
  cuMemMap_fn real = (cuMemMap_fn)symbols_real(SYM_cuMemMap);
  if (!real) return CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND;
  CUresult rc = real(ptr, size, offset, handle, flags);
  if (rc == CUDA_SUCCESS && vmm_track_map(ptr, size, handle)) {
    /* Unrecorded, a release would uncharge memory the mapping keeps alive: undone. */
    cuMemUnmap_fn unmap = (cuMemUnmap_fn)symbols_real(SYM_cuMemUnmap);
    if (unmap) unmap(ptr, size);
    return CUDA_ERROR_OUT_OF_MEMORY;
  }
  return rc;
}

GPUMEM_EXPORT CUresult cuMemUnmap(CUdeviceptr ptr, size_t size)
{
  cuMemUnmap_fn real = (cuMemUnmap_fn)symbols_real(SYM_cuMemUnmap);
  if (!real) return CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND;
  /* Taken out first: once the driver unmapped it, another thread may map the same range. */
  struct vmm_mapping *taken;
  size_t n = vmm_track_unmap_begin(ptr, size, &taken);
  CUresult rc = real(ptr, size);
  vmm_track_unmap_end(taken, n, rc == CUDA_SUCCESS);
  return rc;
}

/* The returned handle is one more reference to the mapped allocation: the caller's
 * cuMemRelease of it must not return the charge while other references or mappings remain. */
GPUMEM_EXPORT CUresult cuMemRetainAllocationHandle(CUmemGenericAllocationHandle *handle, void *addr)
{
  cuMemRetainAllocationHandle_fn real =
    (cuMemRetainAllocationHandle_fn)symbols_real(SYM_cuMemRetainAllocationHandle);
  if (!real) return CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND;
  CUresult rc = real(handle, addr);
  if (rc == CUDA_SUCCESS && handle) vmm_track_retain((uint64_t)(uintptr_t)addr, *handle);
  return rc;
}
