/* The process's view of its container's budget: loaded on first use, charged in the shared region.
 * Implemented by budget.c (which budget, its limits) and region.c (this process's charges). */
#ifndef GPUMEM_BUDGET_H
#define GPUMEM_BUDGET_H

#include <stdint.h>

enum budget_mode {
  BUDGET_OFF,     /* no config and no GPUMEM_LIMIT: pure pass-through */
  BUDGET_ENFORCE, /* charging the shared region */
  BUDGET_CLOSED   /* config unusable (message printed once): every allocation is refused */
};

/* Loads the config on the first call; afterwards one load. */
enum budget_mode budget_mode(void);

/* dev in every function here is a CUDA device ordinal as this process sees it; the charge lands
 * on the container's GPU that it is (device_index.h). A device that is none of them is granted
 * nothing and shows a total of 0. */

/* Charges bytes on dev before the driver is asked; 0, or -1 when it would pass the budget. */
int budget_reserve(int dev, uint64_t bytes);

/* Counts, for gpumem ps and the exporter, one call the budget refused on dev (the region's
 * refused counter of its GPU: one atomic add). Called once where a wrapper answers
 * CUDA_ERROR_OUT_OF_MEMORY because a reservation did not fit, never for an inner attempt that
 * is retried. */
void budget_refused(int dev);

/* Returns a charge (driver refused the allocation, or it was freed). */
void budget_release(int dev, uint64_t bytes);

/* What a context on dev last cost anyone in the container (0 = never measured), at most
 * CONTEXT_CHARGE_MAX; and recording a new measurement. */
uint64_t budget_context_estimate(int dev);
void budget_note_context(int dev, uint64_t bytes);

/* Budget of dev in bytes (0 = none), and in *used what the whole container has charged on it. */
uint64_t budget_limit(int dev, uint64_t *used);

/* Whether dev is one of the container's GPUs (always, without uuid lines in the config). One that
 * is not is shown as a closed budget shows a device: total 0, nothing free. */
int budget_device_known(int dev);

/* budget_limit and budget_closed_total by the container's GPU index i instead of an ordinal (the
 * NVML wrappers match an NVML device to it by UUID). */
uint64_t budget_limit_at(int i, uint64_t *used);
uint64_t budget_closed_total_at(int i);

/* What a closed budget shows as dev's total: the budget last loaded for it (the config before it
 * broke, or one whose region failed), 0 when none was. Never the device's own size: a process
 * that may allocate nothing is not told of memory it cannot have. */
uint64_t budget_closed_total(int dev);

/* Changes a charge on dev from `from` to `to` bytes; 0, or -1 (charge left at `from`) when growing
 * would pass the budget. */
int budget_adjust(int dev, uint64_t from, uint64_t to);

/* Charges bytes the driver already holds (pools, graphs), past the budget if need be. */
void budget_charge_held(int dev, uint64_t bytes);

/* Driver-taken memory (reconcile.c): sets this process's driver-taken charge on dev to bytes.
 * strict: growth that would pass the budget is refused (-1, unchanged); else always charged. */
int budget_set_driver(int dev, uint64_t bytes, int strict);

/* This process's charge on dev and the driver-taken part of it, from its own record of what it
 * charged (not from its slot, which the container can write). */
void budget_own_charge(int dev, uint64_t *used, uint64_t *driver);

/* Marks this process as one whose driver-taken memory NVML does not show (for gpumem ps). */
void budget_mark_driver_unseen(void);

#endif
