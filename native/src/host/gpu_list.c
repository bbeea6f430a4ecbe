/* The host's GPUs as NVML lists them (index order), for limits given as a percent of a GPU. */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "../common/nvml.h"
#include "gpumem_host.h"

#define EXPORT __attribute__((visibility("default")))

/* glibc_compat.h leaves dlsym alone (the interposer defines its own); this file only calls it. */
__asm__(".symver dlsym,dlsym@GLIBC_2.2.5");

static int fail(char *err, int errlen, const char *msg, int code)
{
  if (err && errlen > 0) snprintf(err, (size_t)errlen, "%s (NVML error %d)", msg, code);
  return -1;
}

EXPORT int gpumem_gpu_list(uint64_t *total_bytes, char *uuids, int n, int *count, char *err,
                           int errlen)
{
  if (n < 0 || n > 64 || !count || (n > 0 && (!total_bytes || !uuids)))
    return fail(err, errlen, "invalid arguments: n must be 0..64 with both arrays", 0);
  /* Loaded only when asked: hosts without an NVIDIA driver must still run the rest. */
  void *h = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!h) return fail(err, errlen, "NVML (libnvidia-ml.so.1) is not available on this host", 0);
  nvmlInit_v2_fn init = (nvmlInit_v2_fn)dlsym(h, "nvmlInit_v2");
  nvmlReturn_t (*shutdown)(void) = (nvmlReturn_t(*)(void))dlsym(h, "nvmlShutdown");
  nvmlDeviceGetCount_v2_fn get_count = (nvmlDeviceGetCount_v2_fn)dlsym(h, "nvmlDeviceGetCount_v2");
  nvmlDeviceGetHandleByIndex_v2_fn by_index =
    (nvmlDeviceGetHandleByIndex_v2_fn)dlsym(h, "nvmlDeviceGetHandleByIndex_v2");
  nvmlDeviceGetMemoryInfo_fn mem = (nvmlDeviceGetMemoryInfo_fn)dlsym(h, "nvmlDeviceGetMemoryInfo");
  nvmlDeviceGetUUID_fn uuid = (nvmlDeviceGetUUID_fn)dlsym(h, "nvmlDeviceGetUUID");
  int rc = -1;
  nvmlReturn_t r;
  unsigned int found = 0;
  if (!init || !shutdown || !get_count || !by_index || !mem || !uuid) {
    fail(err, errlen, "NVML lacks a function gpumem needs", NVML_ERROR_FUNCTION_NOT_FOUND);
  } else if ((r = init()) != NVML_SUCCESS) {
    fail(err, errlen, "NVML did not initialise", r);
  } else {
    if ((r = get_count(&found)) != NVML_SUCCESS) {
      fail(err, errlen, "NVML could not count the GPUs", r);
    } else {
      rc = 0;
      for (unsigned int i = 0; i < found && (int)i < n; i++) {
        nvmlDevice_t d;
        nvmlMemory_t m;
        char *u = uuids + (size_t)i * NVML_DEVICE_UUID_V2_BUFFER_SIZE;
        if ((r = by_index(i, &d)) != NVML_SUCCESS || (r = mem(d, &m)) != NVML_SUCCESS ||
            (r = uuid(d, u, NVML_DEVICE_UUID_V2_BUFFER_SIZE)) != NVML_SUCCESS) {
          rc = fail(err, errlen, "NVML could not describe a GPU", r);
          break;
        }
        u[NVML_DEVICE_UUID_V2_BUFFER_SIZE - 1] = '\0';
        total_bytes[i] = m.total;
      }
      *count = (int)found;
    }
    shutdown();
  }
  dlclose(h);
  return rc;
}
