/* Measures what creating one CUDA context took from its device, around the driver's call. */
#ifndef GPUMEM_CONTEXT_MEASURE_H
#define GPUMEM_CONTEXT_MEASURE_H

#include <stdint.h>

#include "../common/cuda.h"
#include "../common/nvml.h"

#define CONTEXT_CHARGE_MAX (UINT64_C(4) << 30) /* no context costs more; above = disturbed */

struct ctx_measure {
  int nvml;              /* NVML usable and the device matched */
  nvmlDevice_t handle;
  int free_stable;       /* two equal consecutive readings */
  uint64_t free_before;
  uint64_t proc_before;  /* this pid's NVML figure (0 when not listed: nothing there yet) */
};

/* Before the driver creates a context on dev. Callers serialize begin/end pairs. */
void ctx_measure_begin(CUdevice dev, struct ctx_measure *m);

/* After it did: the bytes to charge (0 when nothing could be measured). */
uint64_t ctx_measure_end(struct ctx_measure *m);

#endif
