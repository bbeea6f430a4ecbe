/* The host's GPUs and the MIG devices in them as NVML lists them, with the device node each is
 * reached through and the driver's version: what admission counts containers' budgets against. */
#include <stdio.h>
#include <string.h>

#include "gpumem_host.h"
#include "nvml_session.h"

#define EXPORT __attribute__((visibility("default")))
#define UUID_LEN NVML_DEVICE_UUID_V2_BUFFER_SIZE

struct inventory_nvml {
  nvmlDeviceGetCount_v2_fn count;
  nvmlDeviceGetHandleByIndex_v2_fn by_index;
  nvmlDeviceGetUUID_fn uuid;
  nvmlDeviceGetMemoryInfo_fn memory;
  nvmlDeviceGetMinorNumber_fn minor;
  nvmlSystemGetDriverVersion_fn driver_version;
  /* Absent from drivers before MIG (R450): then no GPU is in MIG mode. */
  nvmlDeviceGetMigMode_fn mig_mode;
  nvmlDeviceGetMaxMigDeviceCount_fn max_mig;
  nvmlDeviceGetMigDeviceHandleByIndex_fn mig_by_index;
};

/* Where the entries go: the caller's arrays, filled while there is room, and how many there are. */
struct inventory_out {
  char *uuids;
  uint64_t *total_bytes;
  int32_t *minor, *parent;
  int n, k;
};

static int failed(char *err, int errlen, const char *what, unsigned int gpu, nvmlReturn_t r)
{
  char msg[160];
  snprintf(msg, sizeof msg, "NVML could not read %s of GPU %u", what, gpu);
  return nvml_fail(err, errlen, msg, r);
}

/* Appends one device (its UUID and memory read from handle d) to the list; its position in *k. */
static nvmlReturn_t add(const struct inventory_nvml *f, struct inventory_out *o, nvmlDevice_t d,
                        int32_t minor, int32_t parent, int *k)
{
  char uuid[UUID_LEN];
  nvmlMemory_t m;
  nvmlReturn_t r;
  if ((r = f->uuid(d, uuid, UUID_LEN)) != NVML_SUCCESS || (r = f->memory(d, &m)) != NVML_SUCCESS)
    return r;
  *k = o->k++;
  if (*k >= o->n) return NVML_SUCCESS; /* counted: the caller asks again with room for all */
  uuid[UUID_LEN - 1] = '\0';
  memcpy(o->uuids + (size_t)*k * UUID_LEN, uuid, UUID_LEN);
  o->total_bytes[*k] = m.total;
  o->minor[*k] = minor;
  o->parent[*k] = parent;
  return NVML_SUCCESS;
}

/* GPU i in NVML's order, then its MIG devices when it is in MIG mode. */
static int add_gpu(const struct inventory_nvml *f, struct inventory_out *o, unsigned int i,
                   char *err, int errlen)
{
  nvmlDevice_t d;
  unsigned int minor, current = NVML_DEVICE_MIG_DISABLE, pending, max = 0;
  nvmlReturn_t r;
  int gpu_k;
  if ((r = f->by_index(i, &d)) != NVML_SUCCESS) return failed(err, errlen, "the handle", i, r);
  if ((r = f->minor(d, &minor)) != NVML_SUCCESS)
    return failed(err, errlen, "the device node minor number", i, r);
  if ((r = add(f, o, d, (int32_t)minor, -1, &gpu_k)) != NVML_SUCCESS)
    return failed(err, errlen, "the UUID and memory", i, r);
  if (!f->mig_mode) return 0; /* a driver from before MIG */
  /* NOT_SUPPORTED: a GPU that cannot do MIG. Any other failure stops the listing: a MIG GPU taken
   * for a whole one would have budgets counted against memory no container can reach. */
  r = f->mig_mode(d, &current, &pending);
  if (r == NVML_ERROR_NOT_SUPPORTED) return 0;
  if (r != NVML_SUCCESS) return failed(err, errlen, "the MIG mode", i, r);
  if (current != NVML_DEVICE_MIG_ENABLE) return 0;
  if (!f->max_mig || !f->mig_by_index)
    return nvml_fail(err, errlen, "NVML lists a GPU in MIG mode but lacks the MIG device functions",
                     NVML_ERROR_FUNCTION_NOT_FOUND);
  if ((r = f->max_mig(d, &max)) != NVML_SUCCESS) return failed(err, errlen, "the MIG device count", i, r);
  for (unsigned int j = 0; j < max; j++) {
    nvmlDevice_t m;
    int k;
    r = f->mig_by_index(d, j, &m);
    if (r == NVML_ERROR_NOT_FOUND) continue; /* an index without a MIG device */
    if (r != NVML_SUCCESS || (r = add(f, o, m, (int32_t)minor, gpu_k, &k)) != NVML_SUCCESS)
      return failed(err, errlen, "a MIG device", i, r);
  }
  return 0;
}

EXPORT int gpumem_gpu_inventory(char *uuids, uint64_t *total_bytes, int32_t *minor, int32_t *parent,
                                int n, int *count, char *driver_version, int dvlen, char *err,
                                int errlen)
{
  if (n < 0 || !count || (n > 0 && (!uuids || !total_bytes || !minor || !parent)) || dvlen < 0 ||
      (dvlen > 0 && !driver_version)) {
    if (err && errlen > 0)
      snprintf(err, (size_t)errlen,
               "invalid arguments: n must be >= 0 with all four arrays, dvlen >= 0 with its buffer");
    return -1;
  }
  struct nvml_session s;
  if (nvml_session_open(&s, err, errlen)) return -1;
  struct inventory_nvml f = {
    (nvmlDeviceGetCount_v2_fn)nvml_session_sym(&s, "nvmlDeviceGetCount_v2"),
    (nvmlDeviceGetHandleByIndex_v2_fn)nvml_session_sym(&s, "nvmlDeviceGetHandleByIndex_v2"),
    (nvmlDeviceGetUUID_fn)nvml_session_sym(&s, "nvmlDeviceGetUUID"),
    (nvmlDeviceGetMemoryInfo_fn)nvml_session_sym(&s, "nvmlDeviceGetMemoryInfo"),
    (nvmlDeviceGetMinorNumber_fn)nvml_session_sym(&s, "nvmlDeviceGetMinorNumber"),
    (nvmlSystemGetDriverVersion_fn)nvml_session_sym(&s, "nvmlSystemGetDriverVersion"),
    (nvmlDeviceGetMigMode_fn)nvml_session_sym(&s, "nvmlDeviceGetMigMode"),
    (nvmlDeviceGetMaxMigDeviceCount_fn)nvml_session_sym(&s, "nvmlDeviceGetMaxMigDeviceCount"),
    (nvmlDeviceGetMigDeviceHandleByIndex_fn)nvml_session_sym(&s, "nvmlDeviceGetMigDeviceHandleByIndex"),
  };
  struct inventory_out o = {uuids, total_bytes, minor, parent, n, 0};
  unsigned int found = 0;
  nvmlReturn_t r;
  int rc = -1;
  if (!f.count || !f.by_index || !f.uuid || !f.memory || !f.minor || !f.driver_version) {
    nvml_fail(err, errlen, "NVML lacks a function gpumem needs", NVML_ERROR_FUNCTION_NOT_FOUND);
  } else if (dvlen > 0 && (r = f.driver_version(driver_version, (unsigned int)dvlen)) != NVML_SUCCESS) {
    nvml_fail(err, errlen, "NVML could not tell the driver version", r);
  } else if ((r = f.count(&found)) != NVML_SUCCESS) {
    nvml_fail(err, errlen, "NVML could not count the GPUs", r);
  } else {
    rc = 0;
    for (unsigned int i = 0; i < found && rc == 0; i++) rc = add_gpu(&f, &o, i, err, errlen);
    *count = o.k;
  }
  nvml_session_close(&s);
  return rc;
}
