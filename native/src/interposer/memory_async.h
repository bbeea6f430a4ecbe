/* Stream-ordered allocation, pools and graph memory: the wrappers, and the charge bookkeeping that
 * memory_async.c (pools) and graph_mem.c (the graph memory pool) share. */
#ifndef GPUMEM_MEMORY_ASYNC_H
#define GPUMEM_MEMORY_ASYNC_H

#include <stdint.h>

#include "../common/cuda_api.h"

/* A pool's reservations grow by at least this much (a guess at the driver's granule; only
 * sizes the charge taken before the driver is asked, never what is finally charged). */
#define ASYNC_GRANULE (2ULL << 20)

/* What this process has charged for one pool (or one device's graph pool): exactly the pool's
 * reserved size as last read, plus whatever a call in progress reserved before the driver. */
struct async_charge {
  uint64_t charged;
  uint64_t overgrowth; /* most the pool ever grew beyond the request rounded to the granule */
};

/* Moves the charge of c (with pending bytes reserved by the caller on top) to exactly now.
 * Growth past charged + pending is reserved against the budget; if that is refused, may_refuse
 * leaves everything unchanged and returns -1, else the bytes are charged past the budget,
 * because the driver already holds them. 0 otherwise. */
int async_settle(struct async_charge *c, int dev, uint64_t pending, uint64_t now, int may_refuse);

/* The device a stream's work runs on: cuStreamGetDevice for a real stream if the driver has it,
 * else the current context's device. 0, or -1 when neither is known. */
int async_stream_device(CUstream stream, CUdevice *dev);

static inline uint64_t async_round(uint64_t bytes)
{
  return (bytes + ASYNC_GRANULE - 1) / ASYNC_GRANULE * ASYNC_GRANULE;
}

/* The wrappers' prototypes are the driver's: ../common/cuda_api.h. */

#endif
