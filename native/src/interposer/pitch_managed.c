/* cuMemAllocPitch_v2 and cuMemAllocManaged: device pointers that cuMemFree_v2 frees, so they are
 * remembered in the same ptrmap as cuMemAlloc_v2's and uncharged there. */
#include "../common/cuda.h"
#include "../format/config.h"
#include "budget.h"
#include "charge.h"
#include "current_device.h"
#include "driver_fns.h"
#include "export.h"
#include "ptrmap.h"
#include "symbols.h"

/* The pitch is only known after the call, so the reservation needs an alignment that bounds it.
 * cuMemAllocPitch pads rows to at least 512 bytes on the GPUs we know of, while the texture pitch
 * attribute may be smaller (32 on recent GPUs); the larger of the two is used. */
#define MIN_PITCH_ALIGNMENT 512

static uint64_t pitch_alignment(CUdevice dev)
{
  static int cached[GPUMEM_MAX_GPUS]; /* 0 = not asked yet; asked once per device */
  int a = __atomic_load_n(&cached[dev], __ATOMIC_RELAXED);
  if (a) return (uint64_t)a;
  cuDeviceGetAttribute_fn get = (cuDeviceGetAttribute_fn)driver_fn(DRV_cuDeviceGetAttribute);
  int v = 0;
  if (!get || get(&v, CU_DEVICE_ATTRIBUTE_TEXTURE_PITCH_ALIGNMENT, dev) != CUDA_SUCCESS) v = 0;
  a = v > MIN_PITCH_ALIGNMENT && v <= (1 << 20) ? v : MIN_PITCH_ALIGNMENT;
  __atomic_store_n(&cached[dev], a, __ATOMIC_RELAXED);
  return (uint64_t)a;
}

GPUMEM_EXPORT CUresult cuMemAllocPitch_v2(CUdeviceptr *dptr, size_t *pPitch, size_t WidthInBytes,
                                          size_t Height, unsigned int ElementSizeBytes)
{
  cuMemAllocPitch_v2_fn real = (cuMemAllocPitch_v2_fn)symbols_real(SYM_cuMemAllocPitch_v2);
  if (!real) return CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND;
  if (budget_mode() == BUDGET_CLOSED) return CUDA_ERROR_OUT_OF_MEMORY;
  int dev;
  if (!dptr || !pPitch || WidthInBytes == 0 || Height == 0 || (dev = charge_device()) < 0)
    return real(dptr, pPitch, WidthInBytes, Height, ElementSizeBytes);
  uint64_t a = pitch_alignment(dev), bound, charge;
  if (WidthInBytes > UINT64_MAX - a || __builtin_mul_overflow((WidthInBytes + a - 1) / a * a,
                                                              (uint64_t)Height, &bound))
    return charge_refused(dev); /* no budget holds it */
  if (budget_reserve(dev, bound)) return charge_refused(dev);
  CUresult rc = real(dptr, pPitch, WidthInBytes, Height, ElementSizeBytes);
  if (rc != CUDA_SUCCESS) return charge_settle(rc, dev, bound, 0, &charge_pointers);
  /* Charge what the driver took, never a guess; a pitch above the bound must still fit. */
  if (__builtin_mul_overflow((uint64_t)*pPitch, (uint64_t)Height, &charge) ||
      budget_adjust(dev, bound, charge)) {
    charge_pointers.undo(*dptr);
    budget_release(dev, bound);
    return charge_refused(dev);
  }
  return charge_keep(dev, charge, *dptr, &charge_pointers);
}

/* Managed memory can be made resident on the device at any time, so all of it is charged at
 * allocation, to the current context's device. */
GPUMEM_EXPORT CUresult cuMemAllocManaged(CUdeviceptr *dptr, size_t bytesize, unsigned int flags)
{
  cuMemAllocManaged_fn real = (cuMemAllocManaged_fn)symbols_real(SYM_cuMemAllocManaged);
  if (!real) return CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND;
  if (budget_mode() == BUDGET_CLOSED) return CUDA_ERROR_OUT_OF_MEMORY;
  int dev;
  if (!dptr || bytesize == 0 || (dev = charge_device()) < 0) return real(dptr, bytesize, flags);
  if (budget_reserve(dev, bytesize)) return charge_refused(dev);
  CUresult rc = real(dptr, bytesize, flags);
  return charge_settle(rc, dev, bytesize, *dptr, &charge_managed);
}
