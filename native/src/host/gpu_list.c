/* The host's GPUs as NVML lists them (index order), for limits given as a percent of a GPU. */
#include <string.h>

#include "gpumem_host.h"
#include "nvml_session.h"

#define EXPORT __attribute__((visibility("default")))

EXPORT int gpumem_gpu_list(uint64_t *total_bytes, char *uuids, int n, int *count, char *err,
                           int errlen)
{
  if (n < 0 || n > 64 || !count || (n > 0 && (!total_bytes || !uuids)))
    return nvml_fail(err, errlen, "invalid arguments: n must be 0..64 with both arrays", 0);
  struct nvml_session s;
  if (nvml_session_open(&s, err, errlen)) return -1;
  nvmlDeviceGetCount_v2_fn get_count =
    (nvmlDeviceGetCount_v2_fn)nvml_session_sym(&s, "nvmlDeviceGetCount_v2");
  nvmlDeviceGetHandleByIndex_v2_fn by_index =
    (nvmlDeviceGetHandleByIndex_v2_fn)nvml_session_sym(&s, "nvmlDeviceGetHandleByIndex_v2");
  nvmlDeviceGetMemoryInfo_fn mem =
    (nvmlDeviceGetMemoryInfo_fn)nvml_session_sym(&s, "nvmlDeviceGetMemoryInfo");
  nvmlDeviceGetUUID_fn uuid = (nvmlDeviceGetUUID_fn)nvml_session_sym(&s, "nvmlDeviceGetUUID");
  int rc = -1;
  nvmlReturn_t r;
  unsigned int found = 0;
  if (!get_count || !by_index || !mem || !uuid) {
    nvml_fail(err, errlen, "NVML lacks a function gpumem needs", NVML_ERROR_FUNCTION_NOT_FOUND);
  } else if ((r = get_count(&found)) != NVML_SUCCESS) {
    nvml_fail(err, errlen, "NVML could not count the GPUs", r);
  } else {
    rc = 0;
    for (unsigned int i = 0; i < found && (int)i < n; i++) {
      nvmlDevice_t d;
      nvmlMemory_t m;
      char *u = uuids + (size_t)i * NVML_DEVICE_UUID_V2_BUFFER_SIZE;
      if ((r = by_index(i, &d)) != NVML_SUCCESS || (r = mem(d, &m)) != NVML_SUCCESS ||
          (r = uuid(d, u, NVML_DEVICE_UUID_V2_BUFFER_SIZE)) != NVML_SUCCESS) {
        rc = nvml_fail(err, errlen, "NVML could not describe a GPU", r);
        break;
      }
      u[NVML_DEVICE_UUID_V2_BUFFER_SIZE - 1] = '\0';
      total_bytes[i] = m.total;
    }
    *count = (int)found;
  }
  nvml_session_close(&s);
  return rc;
}
