/* This process's slot in its container's accounting region, for budget.c; the charges other
 * modules make through budget.h (release, charge_held, own_charge, ...) are implemented in
 * region.c too. */
#ifndef GPUMEM_REGION_H
#define GPUMEM_REGION_H

#include <stdint.h>

/* Attaches (creating it if missing) state's region and joins it. 0; -1 with err when there is
 * no usable region; -2 when it has no free slot. *generation points at the region's config
 * generation once it is attached, even if joining failed. */
int region_open(const char *state, const uint64_t **generation, char *err, int errlen);

/* This process's slot, joined now if it has none (a child after fork); -1 when none is free. */
int region_join(void);

/* dev in region_* is the container's GPU index (device_index.h), never an ordinal. */

/* Charges bytes on dev unless that passes limit (0 = none); refused, dead processes' slots are
 * reclaimed (at most every 10 ms) and it is tried once more. 0 or -1. */
int region_reserve(int dev, uint64_t bytes, uint64_t limit);

/* Sets this process's driver-taken charge on dev; growth past limit (0 = none) is refused, -1. */
int region_set_driver(int dev, uint64_t bytes, uint64_t limit);

/* What the whole container has charged on dev. */
uint64_t region_used(int dev);

#endif
