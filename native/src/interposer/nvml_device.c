/* Maps CUDA devices to NVML devices by UUID (ordinals and NVML indexes differ under
 * CUDA_VISIBLE_DEVICES or fastest-first order) and reads NVML's per-process figure, which counts
 * everything the driver holds for a process: allocations, its context, loaded code, local memory. */
#include "nvml_device.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../format/config.h"
#include "driver_fns.h"
#include "fork_reset.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static nvmlDevice_t handles[GPUMEM_MAX_GPUS];
static int looked_up[GPUMEM_MAX_GPUS];
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

/* A child after fork() looks its devices up again. */
static void after_fork_child(void)
{
  pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
  lock = fresh;
  memset(looked_up, 0, sizeof looked_up);
  memset(handles, 0, sizeof handles);
}

static void register_fork(void) { fork_reset_register(after_fork_child); }

static int look_up(const struct nvml_library *n, CUdevice dev, nvmlDevice_t *out)
{
  cuDeviceGetUuid_fn get_uuid = (cuDeviceGetUuid_fn)driver_fn(DRV_cuDeviceGetUuid_v2);
  if (!get_uuid) get_uuid = (cuDeviceGetUuid_fn)driver_fn(DRV_cuDeviceGetUuid);
  CUuuid id;
  if (!get_uuid || get_uuid(&id, dev) != CUDA_SUCCESS) return -1;
  const unsigned char *b = (const unsigned char *)id.bytes;
  char want[64];
  snprintf(want, sizeof want,
           "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
           b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
  unsigned int count = 0;
  if (n->count(&count) != NVML_SUCCESS) return -1;
  for (unsigned int i = 0; i < count; i++) {
    nvmlDevice_t h;
    char uuid[NVML_DEVICE_UUID_V2_BUFFER_SIZE];
    if (n->handle_by_index(i, &h) != NVML_SUCCESS ||
        n->uuid(h, uuid, sizeof uuid) != NVML_SUCCESS)
      continue;
    if (strcmp(uuid, want) == 0) {
      *out = h;
      return 0;
    }
  }
  return -1;
}

int nvml_device_handle(const struct nvml_library *n, CUdevice dev, nvmlDevice_t *out)
{
  if (!n || dev < 0 || dev >= GPUMEM_MAX_GPUS) return -1;
  pthread_once(&fork_once, register_fork);
  pthread_mutex_lock(&lock);
  if (!looked_up[dev]) {
    nvmlDevice_t h = NULL;
    handles[dev] = look_up(n, dev, &h) == 0 ? h : NULL;
    looked_up[dev] = 1;
  }
  nvmlDevice_t h = handles[dev];
  pthread_mutex_unlock(&lock);
  *out = h;
  return h ? 0 : -1;
}

int nvml_device_process_used(const struct nvml_library *n, nvmlDevice_t h, uint64_t *used)
{
  if (!n || !n->processes) return -1;
  nvmlProcessInfo_t infos[256];
  unsigned int count = sizeof infos / sizeof *infos;
  if (n->processes(h, &count, infos) != NVML_SUCCESS) return -1;
  unsigned int me = (unsigned int)getpid();
  for (unsigned int i = 0; i < count && i < sizeof infos / sizeof *infos; i++)
    if (infos[i].pid == me) {
      if (infos[i].usedGpuMemory == ~0ULL) return -1; /* NVML_VALUE_NOT_AVAILABLE */
      *used = infos[i].usedGpuMemory;
      return 1;
    }
  return 0;
}
