/* The driver's own per-cgroup limit on a GPU's memory (NVML R615+, nvmlDeviceSetMemoryLimits_v1):
 * set on a container's cgroup beside gpumem's budget, cleared before the cgroup goes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../format/quote.h"
#include "gpumem_host.h"
#include "nvml_session.h"

#define EXPORT __attribute__((visibility("default")))
#define FIRST_DRIVER_WITH_LIMITS 615
#define PATH_MAX_LEN 4096

/* err = before + value quoted (when given) + after [+ " (NVML error <code>)"]; returns rc. */
static int say(char *err, int errlen, int rc, const char *before, const char *value,
               const char *after, int code)
{
  if (!err || errlen <= 0) return rc;
  char q[GPUMEM_QUOTE_MAX] = "", c[32] = "";
  if (value) gpumem_quote(q, sizeof q, value, strlen(value), GPUMEM_QUOTE_VALUE);
  if (code) snprintf(c, sizeof c, " (NVML error %d)", code);
  snprintf(err, (size_t)errlen, "%s%s%s%s", before, q, after, c);
  return rc;
}

/* The driver's major version (580 of "580.105.08"); -1 when NVML cannot tell or it reads oddly. */
static long driver_major(const struct nvml_session *s)
{
  nvmlSystemGetDriverVersion_fn version =
    (nvmlSystemGetDriverVersion_fn)nvml_session_sym(s, "nvmlSystemGetDriverVersion");
  char v[NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE], *end;
  if (!version || version(v, sizeof v) != NVML_SUCCESS) return -1;
  v[sizeof v - 1] = '\0';
  long major = strtol(v, &end, 10);
  return end != v && (*end == '.' || *end == '\0') ? major : -1;
}

/* 0 set, 1 not available here (err says why), -1 failed: the steps in the order they can fail. */
static int set_limit(const struct nvml_session *s, const char *uuid, const char *cgroup_file,
                     uint64_t bytes, char *err, int errlen)
{
  nvmlDeviceGetHandleByUUID_fn by_uuid =
    (nvmlDeviceGetHandleByUUID_fn)nvml_session_sym(s, "nvmlDeviceGetHandleByUUID");
  nvmlDeviceIsMigDeviceHandle_fn is_mig =
    (nvmlDeviceIsMigDeviceHandle_fn)nvml_session_sym(s, "nvmlDeviceIsMigDeviceHandle");
  nvmlDeviceSetMemoryLimits_v1_fn set =
    (nvmlDeviceSetMemoryLimits_v1_fn)nvml_session_sym(s, "nvmlDeviceSetMemoryLimits_v1");
  if (!by_uuid)
    return say(err, errlen, -1, "NVML lacks a function gpumem needs (nvmlDeviceGetHandleByUUID)", NULL,
               "", NVML_ERROR_FUNCTION_NOT_FOUND);
  /* The UUID first: a wrong one is the caller's mistake on every driver, not "unavailable". */
  nvmlDevice_t d;
  nvmlReturn_t r = by_uuid(uuid, &d);
  if (r == NVML_ERROR_NOT_FOUND || r == NVML_ERROR_INVALID_ARGUMENT)
    return say(err, errlen, -1, "NVML knows no GPU with the UUID ", uuid,
               "; use one this host lists", r);
  if (r != NVML_SUCCESS) return say(err, errlen, -1, "NVML could not find the GPU ", uuid, "", r);
  long major = driver_major(s);
  if (major >= 0 && major < FIRST_DRIVER_WITH_LIMITS)
    return say(err, errlen, 1, "the driver predates per-cgroup memory limits (R615)", NULL, "", 0);
  if (!set) return say(err, errlen, 1, "NVML has no nvmlDeviceSetMemoryLimits_v1 (R615)", NULL, "", 0);
  unsigned int mig = 0;
  if (is_mig && is_mig(d, &mig) == NVML_SUCCESS && mig)
    return say(err, errlen, 1, "memory limits do not apply to MIG devices: ", uuid, "", 0);
  /* soft = hard: the container is guaranteed nothing beyond what gpumem's budget already promises,
   * and may take nothing beyond it. */
  nvmlSetMemoryLimits_v1_t limits = {cgroup_file, bytes, bytes ? bytes : NVML_DEVICE_MEMORY_LIMIT_MAX};
  r = set(d, &limits);
  if (r == NVML_SUCCESS) return 0;
  if (r == NVML_ERROR_NOT_SUPPORTED || r == NVML_ERROR_FUNCTION_NOT_FOUND)
    return say(err, errlen, 1, "NVML does not support memory limits on the GPU ", uuid, "", r);
  if (r == NVML_ERROR_NO_PERMISSION)
    return say(err, errlen, -1, "setting a GPU memory limit needs root; refused for ", cgroup_file, "", r);
  return say(err, errlen, -1, "NVML could not set the GPU memory limit for ", cgroup_file, "", r);
}

EXPORT int gpumem_memory_limit(const char *uuid, const char *cgroup_file, uint64_t bytes, char *err,
                               int errlen)
{
  if (!uuid || !*uuid || strlen(uuid) >= NVML_DEVICE_UUID_V2_BUFFER_SIZE)
    return say(err, errlen, -1, "the GPU UUID ", uuid ? uuid : "",
               " is not valid; use a UUID NVML lists (\"GPU-...\", at most 95 characters)", 0);
  if (!cgroup_file || cgroup_file[0] != '/' || strlen(cgroup_file) >= PATH_MAX_LEN)
    return say(err, errlen, -1, "the cgroup file ", cgroup_file ? cgroup_file : "",
               " is not an absolute path; use the full path of the container's cgroup in sysfs", 0);
  struct nvml_session s;
  if (nvml_session_open(&s, err, errlen)) return -1;
  int rc = set_limit(&s, uuid, cgroup_file, bytes, err, errlen);
  nvml_session_close(&s);
  return rc;
}
