/* Process-local record of the VMM handles gpumem charged and of their mappings: a handle's
 * charge is returned only once every reference to it is released and no mapping of it remains,
 * as the driver keeps the physical memory alive until then. */
#ifndef GPUMEM_VMM_TRACK_H
#define GPUMEM_VMM_TRACK_H

#include <stddef.h>
#include <stdint.h>

struct vmm_alloc;                                   /* one charged cuMemCreate */
struct vmm_mapping { uint64_t va, size; struct vmm_alloc *a; };

/* A charged handle with one reference and no mapping; 0, or -1 (no memory for the record). */
int vmm_track_create(uint64_t handle, uint64_t size, int dev);

/* cuMemMap succeeded: 0 (recorded, or the handle is not ours), or -1 (no memory to record it). */
int vmm_track_map(uint64_t va, uint64_t size, uint64_t handle);

/* cuMemRetainAllocationHandle(addr) returned handle: one more reference to the allocation
 * mapped at addr (if it is ours). */
void vmm_track_retain(uint64_t addr, uint64_t handle);

/* Before the driver's cuMemRelease: the record of handle, or NULL when it is not ours; taken
 * out of the handle index if this is its last reference (the driver may reuse the value). */
struct vmm_alloc *vmm_track_release_begin(uint64_t handle);
/* After it: ok drops the reference and returns the charge when it was the last use. */
void vmm_track_release_end(struct vmm_alloc *a, int ok);

/* Before the driver's cuMemUnmap: takes out the mappings lying wholly inside [va, va+size) into
 * *taken (malloc'd, NULL when none) and returns their number. */
size_t vmm_track_unmap_begin(uint64_t va, uint64_t size, struct vmm_mapping **taken);
/* After it: ok drops those mappings (returning charges whose last use they were), else puts
 * them back; frees taken. */
void vmm_track_unmap_end(struct vmm_mapping *taken, size_t n, int ok);

#endif
