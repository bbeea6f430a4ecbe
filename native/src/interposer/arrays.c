/* CUDA arrays and mipmapped arrays: charged at creation to the current context's device,
 * uncharged at cuArrayDestroy / cuMipmappedArrayDestroy.
 *
 * The driver does not say how much an array takes, and cuArrayGetMemoryRequirements answers only
 * for arrays created with CUDA_ARRAY3D_DEFERRED_MAPPING (any other gets CUDA_ERROR_INVALID_VALUE).
 * So before creating an array we ask for the requirements of a deferred-mapping twin of the same
 * descriptor (which allocates nothing), destroy the twin and reserve exactly that; when the driver
 * cannot (before CUDA 11.6, no support on the device, flags it refuses with deferred mapping) we
 * reserve and keep a bound computed from the descriptor. Sparse and deferred-mapping arrays get
 * their memory through cuMemMapArrayAsync from cuMemCreate handles, charged there: not charged. */
#include <stdint.h>

#include "../common/cuda.h"
#include "../format/config.h"
#include "budget.h"
#include "charge.h"
#include "current_device.h"
#include "driver_fns.h"
#include "export.h"
#include "handlemap.h"
#include "symbols.h"

#define ROW_ALIGN 512            /* rows padded like a pitch */
#define ROWS_ALIGN 8             /* block-linear layouts work in tiles of 8 rows */
#define OVERHEAD (64 * 1024)     /* per array, and the granule the bound is rounded up to */
#define MAX_LEVELS 64

static struct handlemap arrays = HANDLEMAP_INIT, mipmaps = HANDLEMAP_INIT;

/* Bytes of one element; formats not listed here (packed, block-compressed, video) are counted
 * at 16, the most any element takes. */
static uint64_t element_bytes(CUarray_format f, unsigned channels)
{
  uint64_t b;
  switch (f) {
  case CU_AD_FORMAT_UNSIGNED_INT8: case CU_AD_FORMAT_SIGNED_INT8: b = 1; break;
  case CU_AD_FORMAT_UNSIGNED_INT16: case CU_AD_FORMAT_SIGNED_INT16: case CU_AD_FORMAT_HALF: b = 2; break;
  case CU_AD_FORMAT_UNSIGNED_INT32: case CU_AD_FORMAT_SIGNED_INT32: case CU_AD_FORMAT_FLOAT: b = 4; break;
  default: return 16;
  }
  return b * (channels == 0 ? 1 : channels > 4 ? 4 : channels);
}

static uint64_t round_up(uint64_t v, uint64_t to, int *overflow)
{
  if (v > UINT64_MAX - (to - 1)) *overflow = 1;
  return (v + to - 1) / to * to;
}

/* An upper bound of the device memory an array of d with `levels` mip levels takes: each
 * dimension at least 1, rows padded to 512 bytes, heights to 8 rows, levels summed, plus a fixed
 * overhead. UINT64_MAX when it does not fit in 64 bits (the reservation then fails). */
static uint64_t bound(const CUDA_ARRAY3D_DESCRIPTOR *d, unsigned levels)
{
  uint64_t elem = element_bytes(d->Format, d->NumChannels), total = OVERHEAD;
  uint64_t w = d->Width ? d->Width : 1, h = d->Height ? d->Height : 1, z = d->Depth ? d->Depth : 1;
  int same_depth = (d->Flags & (CUDA_ARRAY3D_LAYERED | CUDA_ARRAY3D_CUBEMAP)) != 0; /* layers */
  int overflow = 0;
  if (levels == 0) levels = 1;
  for (unsigned l = 0; l < levels && l < MAX_LEVELS; l++) {
    uint64_t lw = w >> l ? w >> l : 1, lh = h >> l ? h >> l : 1;
    uint64_t lz = same_depth ? z : (z >> l ? z >> l : 1), row, level;
    if (__builtin_mul_overflow(lw, elem, &row)) return UINT64_MAX;
    row = round_up(row, ROW_ALIGN, &overflow);
    lh = lh > 1 ? round_up(lh, ROWS_ALIGN, &overflow) : lh;
    if (overflow || __builtin_mul_overflow(row, lh, &level) ||
        __builtin_mul_overflow(level, lz, &level) || __builtin_add_overflow(total, level, &total))
      return UINT64_MAX;
  }
  total = round_up(total, OVERHEAD, &overflow);
  return overflow ? UINT64_MAX : total;
}

static uint64_t array_charge(const CUDA_ARRAY3D_DESCRIPTOR *d, CUdevice dev)
{
  cuArrayGetMemoryRequirements_fn req =
    (cuArrayGetMemoryRequirements_fn)driver_fn(DRV_cuArrayGetMemoryRequirements);
  cuArray3DCreate_v2_fn create = (cuArray3DCreate_v2_fn)symbols_real(SYM_cuArray3DCreate_v2);
  cuArrayDestroy_fn destroy = (cuArrayDestroy_fn)symbols_real(SYM_cuArrayDestroy);
  CUDA_ARRAY3D_DESCRIPTOR twin = *d;
  twin.Flags |= CUDA_ARRAY3D_DEFERRED_MAPPING;
  CUarray a;
  CUDA_ARRAY_MEMORY_REQUIREMENTS r = {0};
  if (req && create && destroy && create(&a, &twin) == CUDA_SUCCESS) {
    CUresult rc = req(&r, a, dev);
    destroy(a);
    if (rc == CUDA_SUCCESS && r.size) return r.size;
  }
  return bound(d, 1);
}

static uint64_t mipmap_charge(const CUDA_ARRAY3D_DESCRIPTOR *d, unsigned levels, CUdevice dev)
{
  cuMipmappedArrayGetMemoryRequirements_fn req = (cuMipmappedArrayGetMemoryRequirements_fn)
    driver_fn(DRV_cuMipmappedArrayGetMemoryRequirements);
  cuMipmappedArrayCreate_fn create =
    (cuMipmappedArrayCreate_fn)symbols_real(SYM_cuMipmappedArrayCreate);
  cuMipmappedArrayDestroy_fn destroy =
    (cuMipmappedArrayDestroy_fn)symbols_real(SYM_cuMipmappedArrayDestroy);
  CUDA_ARRAY3D_DESCRIPTOR twin = *d;
  twin.Flags |= CUDA_ARRAY3D_DEFERRED_MAPPING;
  CUmipmappedArray a;
  CUDA_ARRAY_MEMORY_REQUIREMENTS r = {0};
  if (req && create && destroy && create(&a, &twin, levels) == CUDA_SUCCESS) {
    CUresult rc = req(&r, a, dev);
    destroy(a);
    if (rc == CUDA_SUCCESS && r.size) return r.size;
  }
  return bound(d, levels);
}

static CUresult destroy_array(uint64_t key)
{
  cuArrayDestroy_fn f = (cuArrayDestroy_fn)symbols_real(SYM_cuArrayDestroy);
  return f ? f((CUarray)(uintptr_t)key) : CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND;
}

static CUresult destroy_mipmap(uint64_t key)
{
  cuMipmappedArrayDestroy_fn f =
    (cuMipmappedArrayDestroy_fn)symbols_real(SYM_cuMipmappedArrayDestroy);
  return f ? f((CUmipmappedArray)(uintptr_t)key) : CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND;
}

static int record_handle(void *map, uint64_t key, uint64_t bytes, int dev)
{
  return handlemap_insert(map, key, bytes, dev);
}

static const struct charge_book array_book = {record_handle, &arrays, destroy_array};
static const struct charge_book mipmap_book = {record_handle, &mipmaps, destroy_mipmap};

static int uncharged(const CUDA_ARRAY3D_DESCRIPTOR *d)
{
  return (d->Flags & (CUDA_ARRAY3D_SPARSE | CUDA_ARRAY3D_DEFERRED_MAPPING)) != 0;
}

GPUMEM_EXPORT CUresult cuArrayCreate_v2(CUarray *pHandle, const CUDA_ARRAY_DESCRIPTOR *desc)
{
  cuArrayCreate_v2_fn real = (cuArrayCreate_v2_fn)symbols_real(SYM_cuArrayCreate_v2);
  if (!real) return CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND;
  if (budget_mode() == BUDGET_CLOSED) return CUDA_ERROR_OUT_OF_MEMORY;
  int dev;
  if (!pHandle || !desc || (dev = charge_device()) < 0) return real(pHandle, desc);
  /* A 2D (or 1D) array is a 3D array of depth 0 without flags. */
  CUDA_ARRAY3D_DESCRIPTOR d3 = {desc->Width, desc->Height, 0, desc->Format, desc->NumChannels, 0};
  uint64_t charge = array_charge(&d3, dev);
  if (budget_reserve(dev, charge)) return charge_refused(dev);
  CUresult rc = real(pHandle, desc);
  return charge_settle(rc, dev, charge, (uintptr_t)*pHandle, &array_book);
}

GPUMEM_EXPORT CUresult cuArray3DCreate_v2(CUarray *pHandle, const CUDA_ARRAY3D_DESCRIPTOR *desc)
{
  cuArray3DCreate_v2_fn real = (cuArray3DCreate_v2_fn)symbols_real(SYM_cuArray3DCreate_v2);
  if (!real) return CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND;
  if (!pHandle || !desc || uncharged(desc)) return real(pHandle, desc);
  if (budget_mode() == BUDGET_CLOSED) return CUDA_ERROR_OUT_OF_MEMORY;
  int dev;
  if ((dev = charge_device()) < 0) return real(pHandle, desc);
  uint64_t charge = array_charge(desc, dev);
  if (budget_reserve(dev, charge)) return charge_refused(dev);
  CUresult rc = real(pHandle, desc);
  return charge_settle(rc, dev, charge, (uintptr_t)*pHandle, &array_book);
}

GPUMEM_EXPORT CUresult cuMipmappedArrayCreate(CUmipmappedArray *pHandle,
                                              const CUDA_ARRAY3D_DESCRIPTOR *desc,
                                              unsigned int numMipmapLevels)
{
  cuMipmappedArrayCreate_fn real =
    (cuMipmappedArrayCreate_fn)symbols_real(SYM_cuMipmappedArrayCreate);
  if (!real) return CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND;
  if (!pHandle || !desc || uncharged(desc)) return real(pHandle, desc, numMipmapLevels);
  if (budget_mode() == BUDGET_CLOSED) return CUDA_ERROR_OUT_OF_MEMORY;
  int dev;
  if ((dev = charge_device()) < 0) return real(pHandle, desc, numMipmapLevels);
  uint64_t charge = mipmap_charge(desc, numMipmapLevels, dev);
  if (budget_reserve(dev, charge)) return charge_refused(dev);
  CUresult rc = real(pHandle, desc, numMipmapLevels);
  return charge_settle(rc, dev, charge, (uintptr_t)*pHandle, &mipmap_book);
}

/* Frees: an array we did not charge (created before a budget, a mipmap level, a deferred one)
 * passes through; a failed destroy keeps the charge. */
GPUMEM_EXPORT CUresult cuArrayDestroy(CUarray hArray)
{
  cuArrayDestroy_fn real = (cuArrayDestroy_fn)symbols_real(SYM_cuArrayDestroy);
  if (!real) return CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND;
  uint64_t size;
  int dev;
  if (!handlemap_take(&arrays, (uintptr_t)hArray, &size, &dev)) return real(hArray);
  return charge_return(real(hArray), dev, size, (uintptr_t)hArray, &array_book);
}

GPUMEM_EXPORT CUresult cuMipmappedArrayDestroy(CUmipmappedArray hMipmappedArray)
{
  cuMipmappedArrayDestroy_fn real =
    (cuMipmappedArrayDestroy_fn)symbols_real(SYM_cuMipmappedArrayDestroy);
  if (!real) return CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND;
  uint64_t size;
  int dev;
  if (!handlemap_take(&mipmaps, (uintptr_t)hMipmappedArray, &size, &dev))
    return real(hMipmappedArray);
  return charge_return(real(hMipmappedArray), dev, size, (uintptr_t)hMipmappedArray,
                       &mipmap_book);
}
