/* The processes NVML sees on each of the host's GPUs and what each holds there: the truth the
 * host checks a container's accounting region against (the region is the container's to write,
 * NVML's figures are not). */
#include <stdlib.h>

#include "gpumem_host.h"
#include "nvml_session.h"

#define EXPORT __attribute__((visibility("default")))
#define MAX_GPUS 64
#define TRIES 4 /* processes may start between NVML's "how many" and the listing */

/* One GPU's processes into a buffer of its own; *infos is the caller's to free. */
static nvmlReturn_t list_gpu(nvmlDeviceGetComputeRunningProcesses_v3_fn list, nvmlDevice_t d,
                             nvmlProcessInfo_t **infos, unsigned int *got)
{
  unsigned int cap = 64;
  nvmlReturn_t r = NVML_ERROR_INSUFFICIENT_SIZE;
  *infos = NULL;
  for (int t = 0; t < TRIES && r == NVML_ERROR_INSUFFICIENT_SIZE; t++) {
    free(*infos);
    *infos = calloc(cap, sizeof **infos);
    if (!*infos) return NVML_ERROR_UNKNOWN;
    unsigned int c = cap;
    r = list(d, &c, *infos);
    if (r == NVML_SUCCESS) *got = c < cap ? c : cap;
    else if (r == NVML_ERROR_INSUFFICIENT_SIZE) cap = c + 16 > cap ? c + 16 : cap * 2;
  }
  return r;
}

EXPORT int gpumem_gpu_processes(int32_t *gpu, uint32_t *pid, uint64_t *used, int n, int *count,
                                uint64_t *unlisted, char *err, int errlen)
{
  if (n < 0 || !count || !unlisted || (n > 0 && (!gpu || !pid || !used)))
    return nvml_fail(err, errlen, "invalid arguments: n must be >= 0 with all three arrays", 0);
  struct nvml_session s;
  if (nvml_session_open(&s, err, errlen)) return -1;
  nvmlDeviceGetCount_v2_fn get_count =
    (nvmlDeviceGetCount_v2_fn)nvml_session_sym(&s, "nvmlDeviceGetCount_v2");
  nvmlDeviceGetHandleByIndex_v2_fn by_index =
    (nvmlDeviceGetHandleByIndex_v2_fn)nvml_session_sym(&s, "nvmlDeviceGetHandleByIndex_v2");
  nvmlDeviceGetComputeRunningProcesses_v3_fn list =
    (nvmlDeviceGetComputeRunningProcesses_v3_fn)nvml_session_sym(
      &s, "nvmlDeviceGetComputeRunningProcesses_v3");
  int rc = -1;
  unsigned int found = 0;
  nvmlReturn_t r;
  if (!get_count || !by_index || !list) {
    nvml_fail(err, errlen,
              "NVML lacks a function gpumem needs (nvmlDeviceGetComputeRunningProcesses_v3: "
              "driver 510 or later)",
              NVML_ERROR_FUNCTION_NOT_FOUND);
  } else if ((r = get_count(&found)) != NVML_SUCCESS) {
    nvml_fail(err, errlen, "NVML could not count the GPUs", r);
  } else {
    rc = 0;
    int k = 0;
    *unlisted = 0;
    for (unsigned int i = 0; i < found && i < MAX_GPUS; i++) {
      nvmlDevice_t d;
      nvmlProcessInfo_t *infos = NULL;
      unsigned int got = 0;
      /* A GPU whose processes cannot be listed is named, not taken for one without any. */
      if (by_index(i, &d) != NVML_SUCCESS || list_gpu(list, d, &infos, &got) != NVML_SUCCESS) {
        *unlisted |= UINT64_C(1) << i;
        got = 0;
      }
      for (unsigned int j = 0; j < got; j++, k++) {
        if (k >= n) continue; /* counted: the caller asks again with room for all */
        gpu[k] = (int32_t)i;
        pid[k] = infos[j].pid;
        used[k] = infos[j].usedGpuMemory; /* ~0: NVML_VALUE_NOT_AVAILABLE, passed on */
      }
      free(infos);
    }
    *count = k;
  }
  nvml_session_close(&s);
  return rc;
}
