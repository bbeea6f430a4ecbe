/* NVML memory queries as the container should see them (what nvidia-smi, pynvml and PyTorch
 * print): total = the budget, used = the container's charge, free = the rest, all clamped. NVML
 * sees every GPU of the host: with uuid lines a device is the container's GPU whose UUID it has,
 * and one that is none of them shows as failed closed. */
#include "../common/nvml.h"
#include "budget.h"
#include "device_index.h"
#include "export.h"
#include "nvml_library.h"
#include "symbols.h"

/* The wrapped function's real address: recorded by dlsym interposition, found next in the
 * search order for a program linked with NVML, or taken from our own handle of the library. */
static void *real_of(enum gpumem_sym id, const char *name)
{
  void *p = symbols_real(id);
  if (!p) {
    p = nvml_library_sym(name);
    if (p) symbols_set_real(symbols_by_name(name), p);
    p = symbols_real(id);
  }
  return p;
}

/* Rewrites one device's figures in place; 0 = leave them as the driver gave them. */
static int virtualize(nvmlDevice_t device, unsigned long long *total, unsigned long long *free,
                      unsigned long long *used)
{
  enum budget_mode m = budget_mode();
  if (m == BUDGET_OFF) return 0;
  static nvmlDeviceGetIndex_fn get_index;
  static nvmlDeviceGetUUID_fn get_uuid;
  if (!get_index) get_index = (nvmlDeviceGetIndex_fn)nvml_library_sym("nvmlDeviceGetIndex");
  if (!get_uuid) get_uuid = (nvmlDeviceGetUUID_fn)nvml_library_sym("nvmlDeviceGetUUID");
  unsigned int nvml_index;
  char uuid[NVML_DEVICE_UUID_V2_BUFFER_SIZE];
  uuid[0] = '\0';
  int index = -1;
  if (get_index && get_index(device, &nvml_index) == NVML_SUCCESS) {
    if (get_uuid && get_uuid(device, uuid, sizeof uuid) != NVML_SUCCESS) uuid[0] = '\0';
    index = device_index_of_nvml(nvml_index, uuid);
    if (index < 0 && m == BUDGET_ENFORCE) m = BUDGET_CLOSED; /* none of the container's GPUs */
  }
  int have_index = index >= 0;
  if (m == BUDGET_CLOSED) { /* as cuMemGetInfo: nothing free of the budget last known */
    uint64_t shown = have_index ? budget_closed_total_at(index) : 0;
    if (shown < *total) *total = shown;
    *used = *total;
    *free = 0;
    return 1;
  }
  if (!have_index) return 0;
  uint64_t charged, limit = budget_limit_at(index, &charged);
  if (!limit) return 0;
  unsigned long long real_free = *free;
  if (limit < *total) *total = limit; /* a budget above the device cannot be granted */
  *used = charged < *total ? charged : *total;
  *free = *total - *used;
  if (*free > real_free) *free = real_free; /* other tenants' use is not ours to promise */
  return 1;
}

GPUMEM_EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t *memory)
{
  nvmlDeviceGetMemoryInfo_fn real = (nvmlDeviceGetMemoryInfo_fn)real_of(
    SYM_nvmlDeviceGetMemoryInfo, "nvmlDeviceGetMemoryInfo");
  if (!real) return NVML_ERROR_FUNCTION_NOT_FOUND;
  nvmlReturn_t rc = real(device, memory);
  if (rc == NVML_SUCCESS && memory) virtualize(device, &memory->total, &memory->free, &memory->used);
  return rc;
}

GPUMEM_EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t device, nvmlMemory_v2_t *memory)
{
  nvmlDeviceGetMemoryInfo_v2_fn real = (nvmlDeviceGetMemoryInfo_v2_fn)real_of(
    SYM_nvmlDeviceGetMemoryInfo_v2, "nvmlDeviceGetMemoryInfo_v2");
  if (!real) return NVML_ERROR_FUNCTION_NOT_FOUND;
  nvmlReturn_t rc = real(device, memory); /* the library checks memory->version */
  if (rc == NVML_SUCCESS && memory &&
      virtualize(device, &memory->total, &memory->free, &memory->used))
    memory->reserved = 0; /* the driver's reservation is outside the budget's total */
  return rc;
}
