/* The NVML device behind a CUDA device, and what NVML says one process of ours holds on it. */
#ifndef GPUMEM_NVML_DEVICE_H
#define GPUMEM_NVML_DEVICE_H

#include <stdint.h>

#include "../common/cuda.h"
#include "../common/nvml.h"
#include "nvml_library.h"

/* The NVML handle of CUDA device dev, matched by UUID; 0, or -1 (no NVML, no such device: MIG). */
int nvml_device_handle(const struct nvml_library *n, CUdevice dev, nvmlDevice_t *out);

/* This process's memory on the device as NVML lists it, under the pid this process sees itself
 * as (inside a container's pid namespace NVML lists namespace pids since driver 535):
 * 1 listed, 0 not listed, -1 unknown (no process query, or the figure is not available). */
int nvml_device_process_used(const struct nvml_library *n, nvmlDevice_t h, uint64_t *used);

#endif
