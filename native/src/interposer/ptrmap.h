/* Process-local map from a device pointer to what was charged for it (size, device). */
#ifndef GPUMEM_PTRMAP_H
#define GPUMEM_PTRMAP_H

#include <stdint.h>

/* 0, or -1 when memory for the map could not be found. */
int ptrmap_insert(uint64_t ptr, uint64_t size, int dev);

/* Removes ptr and returns 1 with its size and device, or 0 if it was never charged. */
int ptrmap_take(uint64_t ptr, uint64_t *size, int *dev);

/* Forgets everything without locking: for the child after fork(), whose pointers are not its own. */
void ptrmap_reset_after_fork(void);

#endif
