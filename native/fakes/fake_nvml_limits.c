/* The fake NVML's driver version and the per-cgroup memory limits that drivers from R615 set
 * (nvmlDeviceSetMemoryLimits_v1 / nvmlDeviceGetMemoryLimits_v1).
 *
 * FAKE_NVML_DRIVER_VERSION: what nvmlSystemGetDriverVersion reports (default "580.105.08"). Below
 *   major 615 both limit functions return NVML_ERROR_FUNCTION_NOT_FOUND, as a library that lacks
 *   them would have its caller conclude.
 * FAKE_NVML_MEMORY_LIMITS_LOG=<file>: each successful set appends one line
 *   "set <GPU-uuid> <nameSpace> <soft> <hard>" (decimal bytes) to it, so that a test sees exactly
 *   what was set and cleared, across processes.
 * MIG handles: NVML_ERROR_NOT_SUPPORTED, as NVML documents. A get returns the last set for that
 * (GPU, nameSpace) while this library stays loaded; NVML_ERROR_NOT_FOUND when there was none. */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fake_nvml_devices.h"

#define MAX_LIMITS 64

struct limit {
  unsigned int gpu;
  char *name_space;
  unsigned long long soft, hard;
};

static struct limit limits[MAX_LIMITS];
static int n_limits;
static pthread_mutex_t limits_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *driver_version(void)
{
  const char *v = getenv("FAKE_NVML_DRIVER_VERSION");
  return v && *v ? v : "580.105.08";
}

nvmlReturn_t nvmlSystemGetDriverVersion(char *version, unsigned int length)
{
  nvmlReturn_t rc = fake_nvml_ready();
  if (rc) return rc;
  if (!version) return NVML_ERROR_INVALID_ARGUMENT;
  const char *v = driver_version();
  if (strlen(v) + 1 > length) return NVML_ERROR_INSUFFICIENT_SIZE;
  memcpy(version, v, strlen(v) + 1);
  return NVML_SUCCESS;
}

/* What both limit functions check first, in the order a real library would fail them. */
static nvmlReturn_t limits_usable(nvmlDevice_t device, const char *name_space)
{
  if (atoi(driver_version()) < 615) return NVML_ERROR_FUNCTION_NOT_FOUND;
  nvmlReturn_t rc = fake_nvml_check_any(device);
  if (rc) return rc;
  if (device->mig >= 0) return NVML_ERROR_NOT_SUPPORTED;
  return name_space ? NVML_SUCCESS : NVML_ERROR_INVALID_ARGUMENT;
}

static struct limit *find(unsigned int gpu, const char *name_space)
{
  for (int i = 0; i < n_limits; i++)
    if (limits[i].gpu == gpu && !strcmp(limits[i].name_space, name_space)) return &limits[i];
  return NULL;
}

static void log_set(nvmlDevice_t device, const nvmlSetMemoryLimits_v1_t *l)
{
  const char *path = getenv("FAKE_NVML_MEMORY_LIMITS_LOG");
  if (!path || !*path) return;
  int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return;
  char uuid[64], line[4352];
  fake_nvml_uuid_text(device, uuid);
  int n = snprintf(line, sizeof line, "set %s %s %llu %llu\n", uuid, l->nameSpace, l->softLimit,
                   l->hardLimit);
  if (n > 0 && (size_t)n < sizeof line && write(fd, line, (size_t)n) != n)
    fprintf(stderr, "fake_nvml: could not append to %s\n", path);
  close(fd);
}

nvmlReturn_t nvmlDeviceSetMemoryLimits_v1(nvmlDevice_t device, nvmlSetMemoryLimits_v1_t *l)
{
  nvmlReturn_t rc = limits_usable(device, l ? l->nameSpace : NULL);
  if (rc) return rc;
  pthread_mutex_lock(&limits_lock);
  struct limit *slot = find(device->index, l->nameSpace);
  if (!slot && n_limits < MAX_LIMITS) {
    slot = &limits[n_limits];
    slot->name_space = strdup(l->nameSpace);
    if (slot->name_space) n_limits++;
    else slot = NULL;
  }
  if (slot) {
    slot->gpu = device->index;
    slot->soft = l->softLimit;
    slot->hard = l->hardLimit;
  }
  pthread_mutex_unlock(&limits_lock);
  if (!slot) return NVML_ERROR_UNKNOWN;
  log_set(device, l);
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMemoryLimits_v1(nvmlDevice_t device, nvmlGetMemoryLimits_v1_t *l)
{
  nvmlReturn_t rc = limits_usable(device, l ? l->nameSpace : NULL);
  if (rc) return rc;
  pthread_mutex_lock(&limits_lock);
  const struct limit *slot = find(device->index, l->nameSpace);
  if (slot) {
    l->softLimit = slot->soft;
    l->hardLimit = slot->hard;
    l->currentUsed = 0;
  }
  pthread_mutex_unlock(&limits_lock);
  return slot ? NVML_SUCCESS : NVML_ERROR_NOT_FOUND;
}
