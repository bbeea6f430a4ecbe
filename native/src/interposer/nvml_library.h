/* The real NVML, loaded on first need (never at library load: most processes never use a GPU). */
#ifndef GPUMEM_NVML_LIBRARY_H
#define GPUMEM_NVML_LIBRARY_H

#include "../common/nvml.h"

struct nvml_library {
  nvmlDeviceGetCount_v2_fn count;
  nvmlDeviceGetHandleByIndex_v2_fn handle_by_index;
  nvmlDeviceGetIndex_fn index;
  nvmlDeviceGetUUID_fn uuid;
  nvmlDeviceGetMemoryInfo_fn memory; /* the library's, never our wrapper */
  nvmlDeviceGetComputeRunningProcesses_v3_fn processes; /* may be NULL */
};

/* dlopen("libnvidia-ml.so.1") once; the driver's address of name there, or NULL. */
void *nvml_library_sym(const char *name);

/* The functions above with NVML initialized by us (nvmlInit_v2, kept for the process's life),
 * or NULL when the library is missing or does not initialize. */
const struct nvml_library *nvml_library(void);

#endif
