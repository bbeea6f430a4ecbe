/* Process-local map from a device pointer to what was charged for it (size, device). */
#ifndef GPUMEM_PTRMAP_H
#define GPUMEM_PTRMAP_H

#include <stdint.h>

/* 0, or -1 when memory for the map could not be found (or ptr is 0, which the driver never
 * returns). A child after fork() starts with the map empty: the pointers are not its own. */
int ptrmap_insert(uint64_t ptr, uint64_t size, int dev);

/* Removes ptr and returns 1 with its size and device, or 0 if it was never charged. */
int ptrmap_take(uint64_t ptr, uint64_t *size, int *dev);

#endif
