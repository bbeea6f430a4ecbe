/* The fake NVML's MIG devices: GPUs in MIG mode and the MIG device handles under them, each with
 * its own UUID ("MIG-...") and memory.
 *
 * FAKE_NVML_MIG="0=10g+20g;2=5g": GPU 0 is in MIG mode (current and pending) with two MIG devices
 *   of 10 and 20 GiB at MIG indexes 0 and 1, GPU 2 with one of 5 GiB; "1=" puts GPU 1 in MIG mode
 *   with none. At most FAKE_NVML_MAX_MIG a GPU. A malformed entry is named on stderr and ignored.
 * FAKE_NVML_MIG_UNSUPPORTED=1: the GPUs not in FAKE_NVML_MIG cannot do MIG at all (pre-Ampere):
 *   nvmlDeviceGetMigMode gives NVML_ERROR_NOT_SUPPORTED instead of "disabled". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/format/size.h"
#include "fake_nvml_devices.h"

nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device);

static struct nvmlDevice_st migs[FAKE_NVML_MAX_DEVICES][FAKE_NVML_MAX_MIG];

/* GPU gpu's entry of FAKE_NVML_MIG: 1 when it is there (MIG mode), its sizes in sizes[0..*n). */
static int mig_entry(unsigned int gpu, uint64_t sizes[FAKE_NVML_MAX_MIG], unsigned int *n)
{
  const char *s = getenv("FAKE_NVML_MIG");
  *n = 0;
  while (s && *s) {
    size_t len = strcspn(s, ";");
    char entry[256], *end;
    if (len < sizeof entry) {
      memcpy(entry, s, len);
      entry[len] = '\0';
    } else {
      entry[0] = '\0';
    }
    unsigned long which = strtoul(entry, &end, 10);
    if (end == entry || *end != '=') {
      fprintf(stderr, "fake_nvml: FAKE_NVML_MIG entry \"%.*s\" is not <gpu>=<size>[+<size>...]\n",
              (int)len, s);
    } else if (which == gpu) {
      for (char *p = end + 1; *p && *n < FAKE_NVML_MAX_MIG;) {
        size_t l = strcspn(p, "+");
        char item[64];
        if (l >= sizeof item) break;
        memcpy(item, p, l);
        item[l] = '\0';
        if (gpumem_size_parse(item, &sizes[*n], NULL, 0) != 0) {
          fprintf(stderr, "fake_nvml: FAKE_NVML_MIG size \"%s\" is not a size\n", item);
          *n = 0;
          return 0;
        }
        (*n)++;
        p += l + (p[l] == '+');
      }
      return 1;
    }
    s += len + (s[len] == ';');
  }
  return 0;
}

unsigned int fake_mig_count(unsigned int gpu)
{
  uint64_t sizes[FAKE_NVML_MAX_MIG];
  unsigned int n;
  mig_entry(gpu, sizes, &n);
  return n;
}

int fake_mig_size(unsigned int gpu, unsigned int j, uint64_t *bytes)
{
  uint64_t sizes[FAKE_NVML_MAX_MIG];
  unsigned int n;
  if (!mig_entry(gpu, sizes, &n) || j >= n) return 0;
  *bytes = sizes[j];
  return 1;
}

nvmlDevice_t fake_mig_device(unsigned int gpu, unsigned int j)
{
  migs[gpu][j] = (struct nvmlDevice_st){gpu, (int)j};
  return &migs[gpu][j];
}

int fake_mig_handle(nvmlDevice_t d)
{
  const struct nvmlDevice_st *first = &migs[0][0];
  if (!d || d < first || d >= first + FAKE_NVML_MAX_DEVICES * FAKE_NVML_MAX_MIG) return 0;
  size_t k = (size_t)(d - first);
  unsigned int gpu = (unsigned int)(k / FAKE_NVML_MAX_MIG), j = (unsigned int)(k % FAKE_NVML_MAX_MIG);
  return gpu < fake_nvml_gpu_count() && j < fake_mig_count(gpu) && d->index == gpu &&
         d->mig == (int)j; /* handed out, not a slot never filled */
}

nvmlReturn_t nvmlDeviceGetMigMode(nvmlDevice_t device, unsigned int *currentMode,
                                  unsigned int *pendingMode)
{
  nvmlReturn_t rc = fake_nvml_check_gpu(device);
  if (rc) return rc;
  if (!currentMode || !pendingMode) return NVML_ERROR_INVALID_ARGUMENT;
  uint64_t sizes[FAKE_NVML_MAX_MIG];
  unsigned int n;
  int on = mig_entry(device->index, sizes, &n);
  const char *unsupported = getenv("FAKE_NVML_MIG_UNSUPPORTED");
  if (!on && unsupported && *unsupported == '1') return NVML_ERROR_NOT_SUPPORTED;
  *currentMode = *pendingMode = on ? NVML_DEVICE_MIG_ENABLE : NVML_DEVICE_MIG_DISABLE;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMaxMigDeviceCount(nvmlDevice_t device, unsigned int *count)
{
  nvmlReturn_t rc = fake_nvml_check_gpu(device);
  if (rc) return rc;
  if (!count) return NVML_ERROR_INVALID_ARGUMENT;
  uint64_t sizes[FAKE_NVML_MAX_MIG];
  unsigned int n;
  /* The most there can be, not how many there are: the caller must skip the empty indexes. */
  *count = mig_entry(device->index, sizes, &n) ? FAKE_NVML_MAX_MIG : 0;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMigDeviceHandleByIndex(nvmlDevice_t device, unsigned int index,
                                                 nvmlDevice_t *migDevice)
{
  nvmlReturn_t rc = fake_nvml_check_gpu(device);
  if (rc) return rc;
  if (!migDevice || index >= FAKE_NVML_MAX_MIG) return NVML_ERROR_INVALID_ARGUMENT;
  uint64_t sizes[FAKE_NVML_MAX_MIG];
  unsigned int n;
  if (!mig_entry(device->index, sizes, &n)) return NVML_ERROR_NOT_SUPPORTED;
  if (index >= n) return NVML_ERROR_NOT_FOUND;
  *migDevice = fake_mig_device(device->index, index);
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceIsMigDeviceHandle(nvmlDevice_t device, unsigned int *isMigDevice)
{
  nvmlReturn_t rc = fake_nvml_check_any(device);
  if (rc) return rc;
  if (!isMigDevice) return NVML_ERROR_INVALID_ARGUMENT;
  *isMigDevice = device->mig >= 0;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetDeviceHandleFromMigDeviceHandle(nvmlDevice_t migDevice, nvmlDevice_t *device)
{
  nvmlReturn_t rc = fake_nvml_check_any(migDevice);
  if (rc) return rc;
  if (!device || migDevice->mig < 0) return NVML_ERROR_INVALID_ARGUMENT;
  return nvmlDeviceGetHandleByIndex_v2(migDevice->index, device);
}
