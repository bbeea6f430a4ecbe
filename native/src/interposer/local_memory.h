/* Local memory (per-thread stack) a device holds for this process: it grows when a kernel needs
 * more per thread than any before, or the stack limit is raised, by the growth times every
 * thread the device can run at once, and never shrinks. */
#ifndef GPUMEM_LOCAL_MEMORY_H
#define GPUMEM_LOCAL_MEMORY_H

#include <stdint.h>

/* Before a call that may need per_thread bytes of local memory per thread on dev: provisions the
 * growth against the budget. 0 with *grown set (bytes provisioned, 0 if none was needed), or -1
 * when it does not fit: then nothing changed and the call must be refused. */
int local_memory_grow(int dev, uint64_t per_thread, uint64_t *grown);

/* The call failed: the growth provisioned for it is returned. */
void local_memory_undo(int dev, uint64_t per_thread, uint64_t grown);

#endif
