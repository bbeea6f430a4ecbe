/* The sequence every synchronous allocation wrapper shares: reserve, call the driver, then
 * record the charge or undo the allocation; and its mirror for frees. */
#ifndef GPUMEM_CHARGE_H
#define GPUMEM_CHARGE_H

#include <stdint.h>

#include "../common/cuda.h"

/* Where a family remembers its charges and how it frees what the driver just made. */
struct charge_book {
  int (*record)(void *map, uint64_t key, uint64_t bytes, int dev); /* 0, or -1: could not */
  void *map;
  CUresult (*undo)(uint64_t key);
};

/* Device pointers freed by cuMemFree_v2 (cuMemAlloc_v2, pitch): the ptrmap. */
extern const struct charge_book charge_pointers;

/* Managed pointers: the same map, their device marked with CHARGE_MANAGED. */
extern const struct charge_book charge_managed;
#define CHARGE_MANAGED 0x10000

/* The device an allocation on the current context is charged to, or -1 when the driver should
 * just be called: no budget, or no usable context (the driver then gives its own error). */
int charge_device(void);

/* A call the budget refused on dev: counted in the region (budget_refused), and the answer the
 * caller gets, CUDA_ERROR_OUT_OF_MEMORY. Every wrapper's refusal goes through here. */
CUresult charge_refused(int dev);

/* After the driver answered an allocation of `bytes` reserved on dev: a failure returns the
 * reservation and passes rc on; a success is recorded under key, or, if it cannot be (it could
 * never be uncharged), undone and uncharged with CUDA_ERROR_OUT_OF_MEMORY. */
CUresult charge_settle(CUresult rc, int dev, uint64_t bytes, uint64_t key,
                       const struct charge_book *b);

/* The record-or-undo half of charge_settle, for a success already charged `bytes`. */
CUresult charge_keep(int dev, uint64_t bytes, uint64_t key, const struct charge_book *b);

/* After the driver answered a free of key, whose record was taken out beforehand: success
 * returns the charge, failure puts the record back. Passes rc on. */
CUresult charge_return(CUresult rc, int dev, uint64_t bytes, uint64_t key,
                       const struct charge_book *b);

#endif
