/* A fake libnvidia-ml.so.1: the fake driver's devices as NVML sees them. The fake device is per
 * process, so "device free" is this process's fake device free (0 used when libcuda is not
 * loaded or not initialized).
 *
 * FAKE_CUDA_DEVICE_MEM / FAKE_CUDA_DEVICE_COUNT: as the fake driver.
 * FAKE_NVML_DEVICE_MEMS: a size per device, comma-separated ("24g,40g"): a host of GPUs of
 *   different sizes, as the host's tools see it (without the fake driver loaded); it also gives
 *   the count when FAKE_CUDA_DEVICE_COUNT is unset.
 * FAKE_NVML_NOISE: a size; every memory reading sees that much more taken than the last one did,
 *   as if another process were allocating all the time (disturbs the context measurement).
 * FAKE_NVML_HIDE_PIDS=1: the process list is empty, as inside a container before driver 535.
 * FAKE_NVML_HOST_PIDS=1: the process is listed under another pid (its host pid, as a driver
 *   before 535 lists it inside a container), so it cannot find itself.
 * Otherwise a process with the fake driver initialized is listed under the pid it sees itself
 * as, with what it holds (managed memory left out), as drivers from 565 do inside containers.
 * FAKE_CUDA_SHARED=<file> (the fake driver's cross-process file, fake_cuda_shared.h): a process
 * without the fake driver (a host tool: gpumem ps) is shown every process the file shows holding
 * memory on the device, managed memory left out, under the pid that process has in the caller's
 * /proc: a containerised process is listed under its host pid, as the real driver lists it on the
 * host (fake_nvml_processes.c translates through /proc/<pid>/ns/pid and NSpid).
 * FAKE_NVML_MINORS: the device node minor number of each GPU in NVML's index order,
 *   comma-separated ("2,0,1": GPU 0 is /dev/nvidia2); a GPU not listed has its index as minor.
 * MIG devices (FAKE_NVML_MIG): fake_nvml_mig.c; the driver version (FAKE_NVML_DRIVER_VERSION) and
 * the R615 per-cgroup memory limits (FAKE_NVML_MEMORY_LIMITS_LOG): fake_nvml_limits.c. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../src/common/nvml.h"
#include "../src/format/size.h"
#include "fake_cuda_context.h"
#include "fake_list.h"
#include "fake_nvml_devices.h"
#include "fake_nvml_processes.h"

#define MAX_DEVICES FAKE_NVML_MAX_DEVICES

static struct nvmlDevice_st devices[MAX_DEVICES];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int init_count;
static unsigned long long noise_taken;

typedef int (*fake_cuda_memory_fn)(int dev, uint64_t *total, uint64_t *used);

static unsigned int device_count(void)
{
  const char *c = getenv("FAKE_CUDA_DEVICE_COUNT");
  int n = c ? atoi(c) : getenv("FAKE_NVML_DEVICE_MEMS") ? (int)fake_list_count("FAKE_NVML_DEVICE_MEMS") : 1;
  return n < 0 ? 0 : n > MAX_DEVICES ? MAX_DEVICES : (unsigned int)n;
}

static uint64_t env_size(const char *name, uint64_t fallback)
{
  const char *s = getenv(name);
  uint64_t v;
  return s && *s && gpumem_size_parse(s, &v, NULL, 0) == 0 ? v : fallback;
}

/* This process's fake device, from the fake driver when it is loaded and initialized. */
static void device_memory(unsigned int i, uint64_t *total, uint64_t *used)
{
  *total = env_size("FAKE_CUDA_DEVICE_MEM", 16ULL << 30);
  uint64_t listed;
  if (fake_listed_size(i, &listed)) *total = listed;
  *used = 0;
  void *h = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_NOLOAD);
  if (!h) return;
  fake_cuda_memory_fn f = (fake_cuda_memory_fn)dlsym(h, "fake_cuda_memory");
  uint64_t t, u;
  if (f && f((int)i, &t, &u) == 0) {
    *total = t;
    *used = u;
  }
  dlclose(h);
}

static nvmlReturn_t check(nvmlDevice_t d)
{
  if (!init_count) return NVML_ERROR_UNINITIALIZED;
  if (!d || d < devices || d >= devices + device_count()) return NVML_ERROR_INVALID_ARGUMENT;
  return NVML_SUCCESS;
}

nvmlReturn_t fake_nvml_ready(void) { return init_count ? NVML_SUCCESS : NVML_ERROR_UNINITIALIZED; }
nvmlReturn_t fake_nvml_check_gpu(nvmlDevice_t d) { return check(d); }
unsigned int fake_nvml_gpu_count(void) { return device_count(); }

nvmlReturn_t fake_nvml_check_any(nvmlDevice_t d)
{
  if (!init_count) return NVML_ERROR_UNINITIALIZED;
  return check(d) == NVML_SUCCESS || fake_mig_handle(d) ? NVML_SUCCESS : NVML_ERROR_INVALID_ARGUMENT;
}

/* A GPU's UUID is the fake driver's (fake_gpu_uuid); a MIG device's starts with other bytes, so its
 * hex differs from every GPU's, and ends with its GPU and its index there. */
void fake_nvml_uuid_text(nvmlDevice_t d, char out[64])
{
  unsigned char b[16];
  fake_gpu_uuid((int)d->index, b);
  if (d->mig >= 0) {
    b[0] = 0x31;
    b[1] = 0x9c;
    b[14] = (unsigned char)(d->mig + 1);
  }
  snprintf(out, 64, "%s-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
           d->mig >= 0 ? "MIG" : "GPU", b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
           b[10], b[11], b[12], b[13], b[14], b[15]);
}

nvmlReturn_t nvmlInit_v2(void)
{
  pthread_mutex_lock(&lock);
  init_count++;
  for (unsigned int i = 0; i < MAX_DEVICES; i++) devices[i] = (struct nvmlDevice_st){i, -1};
  pthread_mutex_unlock(&lock);
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlInit(void) { return nvmlInit_v2(); }

nvmlReturn_t nvmlShutdown(void)
{
  pthread_mutex_lock(&lock);
  nvmlReturn_t rc = init_count ? NVML_SUCCESS : NVML_ERROR_UNINITIALIZED;
  if (init_count) init_count--;
  pthread_mutex_unlock(&lock);
  return rc;
}

const char *nvmlErrorString(nvmlReturn_t result)
{
  switch (result) {
  case NVML_SUCCESS: return "Success";
  case NVML_ERROR_UNINITIALIZED: return "Uninitialized";
  case NVML_ERROR_INVALID_ARGUMENT: return "Invalid Argument";
  case NVML_ERROR_NOT_SUPPORTED: return "Not Supported";
  case NVML_ERROR_NO_PERMISSION: return "Insufficient Permissions";
  case NVML_ERROR_FUNCTION_NOT_FOUND: return "Function Not Found";
  case NVML_ERROR_NOT_FOUND: return "Not Found";
  case NVML_ERROR_INSUFFICIENT_SIZE: return "Insufficient Size";
  case NVML_ERROR_ARGUMENT_VERSION_MISMATCH: return "Argument Version Mismatch";
  default: return "Unknown Error";
  }
}

nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *count)
{
  if (!init_count) return NVML_ERROR_UNINITIALIZED;
  if (!count) return NVML_ERROR_INVALID_ARGUMENT;
  *count = device_count();
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device)
{
  if (!init_count) return NVML_ERROR_UNINITIALIZED;
  if (!device || index >= device_count()) return NVML_ERROR_INVALID_ARGUMENT;
  *device = &devices[index];
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetIndex(nvmlDevice_t device, unsigned int *index)
{
  nvmlReturn_t rc = check(device);
  if (rc) return rc;
  if (!index) return NVML_ERROR_INVALID_ARGUMENT;
  *index = device->index;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char *uuid, unsigned int length)
{
  nvmlReturn_t rc = fake_nvml_check_any(device);
  if (rc) return rc;
  if (!uuid) return NVML_ERROR_INVALID_ARGUMENT;
  char text[64];
  fake_nvml_uuid_text(device, text);
  size_t n = strlen(text);
  if (n + 1 > length) return NVML_ERROR_INSUFFICIENT_SIZE;
  memcpy(uuid, text, n + 1);
  return NVML_SUCCESS;
}

/* A GPU or MIG device by its UUID, as nvidia-container-toolkit finds the devices it was given. */
nvmlReturn_t nvmlDeviceGetHandleByUUID(const char *uuid, nvmlDevice_t *device)
{
  if (!init_count) return NVML_ERROR_UNINITIALIZED;
  if (!uuid || !device) return NVML_ERROR_INVALID_ARGUMENT;
  char text[64];
  for (unsigned int i = 0; i < device_count(); i++) {
    fake_nvml_uuid_text(&devices[i], text);
    if (!strcmp(text, uuid)) {
      *device = &devices[i];
      return NVML_SUCCESS;
    }
    for (unsigned int j = 0; j < fake_mig_count(i); j++) {
      nvmlDevice_t m = fake_mig_device(i, j);
      fake_nvml_uuid_text(m, text);
      if (!strcmp(text, uuid)) {
        *device = m;
        return NVML_SUCCESS;
      }
    }
  }
  return NVML_ERROR_NOT_FOUND;
}

/* FAKE_NVML_MINORS; a MIG device has no node of its own (its GPU's serves it). */
nvmlReturn_t nvmlDeviceGetMinorNumber(nvmlDevice_t device, unsigned int *minorNumber)
{
  if (fake_nvml_check_any(device) == NVML_SUCCESS && device->mig >= 0) return NVML_ERROR_NOT_SUPPORTED;
  nvmlReturn_t rc = check(device);
  if (rc) return rc;
  if (!minorNumber) return NVML_ERROR_INVALID_ARGUMENT;
  char item[32], *end = item;
  unsigned long v = fake_list_item("FAKE_NVML_MINORS", device->index, item, sizeof item)
                      ? strtoul(item, &end, 10)
                      : 0;
  *minorNumber = end != item && !*end ? (unsigned int)v : device->index;
  return NVML_SUCCESS;
}

/* Device-wide figures: this process's fake device plus the simulated other tenant's noise. */
static void figures(nvmlDevice_t device, uint64_t *total, uint64_t *free_bytes, uint64_t *used)
{
  device_memory(device->index, total, used);
  uint64_t noise = env_size("FAKE_NVML_NOISE", 0);
  if (noise) *used += __atomic_add_fetch(&noise_taken, noise, __ATOMIC_RELAXED);
  if (*used > *total) *used = *total;
  *free_bytes = *total - *used;
}

/* A MIG device's figures: its slice, unused (the fake driver's devices are whole GPUs). */
static int mig_figures(nvmlDevice_t device, uint64_t *total, uint64_t *free_bytes, uint64_t *used)
{
  if (device->mig < 0 || !fake_mig_size(device->index, (unsigned int)device->mig, total)) return 0;
  *free_bytes = *total;
  *used = 0;
  return 1;
}

nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t *memory)
{
  nvmlReturn_t rc = fake_nvml_check_any(device);
  if (rc) return rc;
  if (!memory) return NVML_ERROR_INVALID_ARGUMENT;
  uint64_t t, f, u;
  if (!mig_figures(device, &t, &f, &u)) figures(device, &t, &f, &u);
  memory->total = t;
  memory->free = f;
  memory->used = u;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t device, nvmlMemory_v2_t *memory)
{
  nvmlReturn_t rc = fake_nvml_check_any(device);
  if (rc) return rc;
  if (!memory) return NVML_ERROR_INVALID_ARGUMENT;
  if (memory->version != nvmlMemory_v2) return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
  uint64_t t, f, u;
  if (!mig_figures(device, &t, &f, &u)) figures(device, &t, &f, &u);
  memory->total = t;
  memory->reserved = 0;
  memory->free = f;
  memory->used = u;
  return NVML_SUCCESS;
}

typedef int (*fake_cuda_process_memory_fn)(int dev, uint64_t *bytes);

/* This process's figure from the fake driver: 0 listed, -1 not (driver not loaded/initialized). */
static int process_memory(unsigned int i, uint64_t *bytes)
{
  void *h = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_NOLOAD);
  if (!h) return -1;
  fake_cuda_process_memory_fn f = (fake_cuda_process_memory_fn)dlsym(h, "fake_cuda_process_memory");
  int rc = f ? f((int)i, bytes) : -1;
  dlclose(h);
  return rc;
}

nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t device, unsigned int *infoCount,
                                                     nvmlProcessInfo_t *infos)
{
  nvmlReturn_t rc = check(device);
  if (rc) return rc;
  if (!infoCount) return NVML_ERROR_INVALID_ARGUMENT;
  uint64_t used = 0;
  const char *hide = getenv("FAKE_NVML_HIDE_PIDS"), *host = getenv("FAKE_NVML_HOST_PIDS");
  int hidden = hide && *hide == '1';
  if (process_memory(device->index, &used) != 0 && !hidden) {
    int others = fake_shared_processes(device->index, infos, infos ? *infoCount : 0);
    if (others >= 0) {
      unsigned int cap = *infoCount;
      *infoCount = (unsigned int)others;
      return (unsigned int)others > cap ? NVML_ERROR_INSUFFICIENT_SIZE : NVML_SUCCESS;
    }
  }
  unsigned int n = process_memory(device->index, &used) == 0 && !hidden ? 1 : 0;
  if (*infoCount < n) {
    *infoCount = n;
    return NVML_ERROR_INSUFFICIENT_SIZE;
  }
  *infoCount = n;
  if (n) {
    if (!infos) return NVML_ERROR_INVALID_ARGUMENT;
    unsigned int pid = (unsigned int)getpid() + (host && *host == '1' ? 1000000u : 0u);
    infos[0] = (nvmlProcessInfo_t){pid, used, ~0u, ~0u};
  }
  return NVML_SUCCESS;
}
