/* Prints what NVML says about every device's memory as one JSON line, as nvidia-smi would show
 * it; built twice: reaching NVML by dlopen + dlsym (pynvml, PyTorch) and with -DLINKED (nvidia-smi
 * links libnvidia-ml.so.1). */
#include <stdio.h>

#include "../src/common/nvml.h"

#ifdef LINKED
nvmlReturn_t nvmlInit_v2(void);
nvmlReturn_t nvmlShutdown(void);
nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *count);
nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device);
nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char *uuid, unsigned int length);
nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t *memory);
nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t device, nvmlMemory_v2_t *memory);
#define LOAD(name) (name)
#else
#include <dlfcn.h>
static void *lib;
#define LOAD(name) ((name##_fn)dlsym(lib, #name))
#endif

typedef nvmlReturn_t (*nvmlShutdown_fn)(void);

int main(void)
{
#ifndef LINKED
  lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    printf("{\"error\":\"cannot dlopen libnvidia-ml.so.1\"}\n");
    return 1;
  }
#endif
  nvmlInit_v2_fn init = LOAD(nvmlInit_v2);
  nvmlShutdown_fn shutdown = LOAD(nvmlShutdown);
  nvmlDeviceGetCount_v2_fn count_fn = LOAD(nvmlDeviceGetCount_v2);
  nvmlDeviceGetHandleByIndex_v2_fn handle_fn = LOAD(nvmlDeviceGetHandleByIndex_v2);
  nvmlDeviceGetUUID_fn uuid_fn = LOAD(nvmlDeviceGetUUID);
  nvmlDeviceGetMemoryInfo_fn mem_fn = LOAD(nvmlDeviceGetMemoryInfo);
  nvmlDeviceGetMemoryInfo_v2_fn mem2_fn = LOAD(nvmlDeviceGetMemoryInfo_v2);
  unsigned int count = 0;
  if (!init || !count_fn || !handle_fn || !uuid_fn || !mem_fn || !mem2_fn || init() != NVML_SUCCESS ||
      count_fn(&count) != NVML_SUCCESS) {
    printf("{\"error\":\"NVML unusable\"}\n");
    return 1;
  }
  printf("{\"count\":%u,\"devices\":[", count);
  for (unsigned int i = 0; i < count; i++) {
    nvmlDevice_t h;
    char uuid[NVML_DEVICE_UUID_V2_BUFFER_SIZE] = "";
    nvmlMemory_t m = {0, 0, 0};
    nvmlMemory_v2_t m2 = {nvmlMemory_v2, 0, 0, 0, 0};
    nvmlMemory_v2_t bad = {1, 0, 0, 0, 0};
    int rc = handle_fn(i, &h);
    if (!rc) rc = uuid_fn(h, uuid, sizeof uuid);
    if (!rc) rc = mem_fn(h, &m);
    if (!rc) rc = mem2_fn(h, &m2);
    int bad_rc = rc ? 0 : mem2_fn(h, &bad);
    printf("%s{\"index\":%u,\"rc\":%d,\"uuid\":\"%s\",\"total\":%llu,\"free\":%llu,\"used\":%llu,"
           "\"v2\":{\"total\":%llu,\"reserved\":%llu,\"free\":%llu,\"used\":%llu},"
           "\"v2_bad_version_rc\":%d}",
           i ? "," : "", i, rc, uuid, m.total, m.free, m.used, m2.total, m2.reserved, m2.free,
           m2.used, bad_rc);
  }
  printf("]}\n");
  if (shutdown) shutdown();
  return 0;
}
