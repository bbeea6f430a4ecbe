/* One implementation of reserve -> driver -> record or undo, used by every synchronous family. */
#include "charge.h"

#include "../format/config.h"
#include "budget.h"
#include "current_device.h"
#include "export.h"
#include "ptrmap.h"
#include "reconcile.h"
#include "symbols.h"

static int record_pointer(void *map, uint64_t key, uint64_t bytes, int dev)
{
  (void)map;
  return ptrmap_insert(key, bytes, dev);
}

static CUresult free_pointer(uint64_t key)
{
  cuMemFree_v2_fn f = (cuMemFree_v2_fn)symbols_real(SYM_cuMemFree_v2);
  return f ? f(key) : CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND;
}

const struct charge_book charge_pointers = {record_pointer, 0, free_pointer};

/* Managed pointers are freed by cuMemFree_v2 too; marked in the map, because NVML's per-process
 * figure leaves managed memory out and the driver-taken measurement must as well. */
static int record_managed(void *map, uint64_t key, uint64_t bytes, int dev)
{
  (void)map;
  if (ptrmap_insert(key, bytes, dev | CHARGE_MANAGED)) return -1;
  reconcile_note_managed(dev, (int64_t)bytes);
  return 0;
}

const struct charge_book charge_managed = {record_managed, 0, free_pointer};

int charge_device(void)
{
  CUdevice dev;
  if (budget_mode() != BUDGET_ENFORCE || current_device(&dev) != CUDA_SUCCESS || dev < 0 ||
      dev >= GPUMEM_MAX_GPUS)
    return -1;
  return dev;
}

CUresult charge_refused(int dev)
{
  budget_refused(dev);
  return CUDA_ERROR_OUT_OF_MEMORY;
}

CUresult charge_keep(int dev, uint64_t bytes, uint64_t key, const struct charge_book *b)
{
  if (!b->record(b->map, key, bytes, dev)) return CUDA_SUCCESS;
  b->undo(key);
  budget_release(dev, bytes);
  return CUDA_ERROR_OUT_OF_MEMORY;
}

CUresult charge_settle(CUresult rc, int dev, uint64_t bytes, uint64_t key,
                       const struct charge_book *b)
{
  if (rc == CUDA_SUCCESS) return charge_keep(dev, bytes, key, b);
  budget_release(dev, bytes);
  return rc;
}

CUresult charge_return(CUresult rc, int dev, uint64_t bytes, uint64_t key,
                       const struct charge_book *b)
{
  if (rc == CUDA_SUCCESS) budget_release(dev, bytes);
  else b->record(b->map, key, bytes, dev);
  return rc;
}
