/* What the fake NVML's files share: the handle type, its checks, and a device's UUID and MIG slices. */
#ifndef FAKE_NVML_DEVICES_H
#define FAKE_NVML_DEVICES_H

#include <stdint.h>

#include "../src/common/nvml.h"

#define FAKE_NVML_HIDDEN __attribute__((visibility("hidden")))
#define FAKE_NVML_MAX_DEVICES 64
/* The most MIG devices a GPU can hold (seven 1g slices of an A100 / H100), as NVML's
 * nvmlDeviceGetMaxMigDeviceCount reports for a GPU in MIG mode. */
#define FAKE_NVML_MAX_MIG 7

/* A GPU handle (mig = -1) or a MIG device handle (mig = its index under GPU `index`). */
struct nvmlDevice_st {
  unsigned int index;
  int mig;
};

/* In fake_nvml.c: 0 when nvmlInit has been called (and not undone), else NVML_ERROR_UNINITIALIZED. */
FAKE_NVML_HIDDEN nvmlReturn_t fake_nvml_ready(void);
/* 0 for a GPU handle of this host, else the NVML error a real library gives. */
FAKE_NVML_HIDDEN nvmlReturn_t fake_nvml_check_gpu(nvmlDevice_t d);
/* The same for a GPU or a MIG device handle. */
FAKE_NVML_HIDDEN nvmlReturn_t fake_nvml_check_any(nvmlDevice_t d);
/* The device's UUID as NVML spells it ("GPU-..." or "MIG-...") into out[64]. */
FAKE_NVML_HIDDEN void fake_nvml_uuid_text(nvmlDevice_t d, char out[64]);
FAKE_NVML_HIDDEN unsigned int fake_nvml_gpu_count(void);

/* In fake_nvml_mig.c (FAKE_NVML_MIG): how many MIG devices GPU gpu has (0: not in MIG mode), and
 * the size of its j-th in *bytes. */
FAKE_NVML_HIDDEN unsigned int fake_mig_count(unsigned int gpu);
FAKE_NVML_HIDDEN int fake_mig_size(unsigned int gpu, unsigned int j, uint64_t *bytes);
/* GPU gpu's j-th MIG device (j < fake_mig_count(gpu)). */
FAKE_NVML_HIDDEN nvmlDevice_t fake_mig_device(unsigned int gpu, unsigned int j);
/* 1 when d is one of the MIG handles fake_nvml_mig.c handed out and still exists. */
FAKE_NVML_HIDDEN int fake_mig_handle(nvmlDevice_t d);

#endif
