/* The interposer's side of the accounting region: a process maps it, takes a slot and charges its
 * allocations there, under the region's process-shared robust lock. */
#ifndef GPUMEM_FORMAT_ACCOUNTING_LEDGER_H
#define GPUMEM_FORMAT_ACCOUNTING_LEDGER_H

#include <stdint.h>
#include <sys/types.h>

#include "accounting.h"

/* Maps an existing region read-write after validating it; NULL with err on failure
 * (*missing = 1 when the file does not exist). */
struct gpumem_region *gpumem_accounting_attach(const char *path, int *missing, char *err,
                                               int errlen);

/* Takes a slot for (pid, start_time); reclaims dead processes' slots first. Slot index or -1. */
int gpumem_accounting_join(struct gpumem_region *r, pid_t pid, uint64_t start_time);

/* Gives back everything the slot holds and frees it. */
void gpumem_accounting_leave(struct gpumem_region *r, int slot);

/* Charges bytes on GPU dev to slot, unless that would pass budget (0 = no budget): then dead
 * processes are reclaimed and it is tried once more. 0 = charged, -1 = over budget or broken. */
int gpumem_accounting_reserve(struct gpumem_region *r, int slot, int dev, uint64_t bytes,
                              uint64_t budget);

/* As gpumem_accounting_reserve; reclaim = 0 skips the dead-process scan (kill + /proc reads)
 * that a refused reservation would otherwise do, for callers that rate-limit it themselves. */
int gpumem_accounting_try_reserve(struct gpumem_region *r, int slot, int dev, uint64_t bytes,
                                  uint64_t budget, int reclaim);

/* Returns a charge taken by gpumem_accounting_reserve. */
void gpumem_accounting_release(struct gpumem_region *r, int slot, int dev, uint64_t bytes);

/* Moves the driver-taken part of a slot's charge on dev from `from` to `to` bytes: the slot's
 * and the total's used move by the difference, the slot's driver part becomes `to`. `from` is the
 * caller's own record of what it charged (the slot is the container's to write, so a scribbled
 * one must not decide how much is charged or given back). Growing is refused (-1, nothing
 * changed) when it would pass budget; budget 0 never refuses: memory the driver already took is
 * charged whatever the budget says. */
int gpumem_accounting_set_driver(struct gpumem_region *r, int slot, int dev, uint64_t from,
                                 uint64_t to, uint64_t budget);

/* Counts one allocation the budget refused on GPU dev (an atomic add; no lock, no I/O). The
 * peak needs no call: every charge recorded above raises it. */
void gpumem_accounting_refused(struct gpumem_region *r, int dev);

/* Sets (on = 1) or clears flag bits of a slot. */
void gpumem_accounting_slot_flag(struct gpumem_region *r, int slot, uint32_t flag, int on);

/* Frees the slots of processes that no longer exist; returns how many. */
int gpumem_accounting_reclaim(struct gpumem_region *r);

#endif
