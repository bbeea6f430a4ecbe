/* Context cost = the device's free memory before minus after the creation, read from NVML (no
 * driver call can tell "before": there is no context yet). Both readings come from NVML so that
 * driver-reserved memory, which NVML and cuMemGetInfo count differently, cancels out. Another
 * process allocating meanwhile would leak into that difference, so the readings are repeated
 * until stable and cross-checked with NVML's per-process figure for our pid, which no other
 * process can disturb but which only exists where NVML sees our pid (not in a container with its
 * own pid namespace). See README.md, "Context memory". */
#include "context_measure.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../format/config.h"
#include "nvml_real.h"
#include "symbols.h"

#define READS 6
#define AGREE (UINT64_C(64) << 20) /* per-process and device figures closer than this agree */

static nvmlDevice_t handles[GPUMEM_MAX_GPUS];
static int looked_up[GPUMEM_MAX_GPUS];

/* CUDA ordinals and NVML indexes differ (CUDA_VISIBLE_DEVICES, fastest-first order): the UUID
 * is what both agree on. */
static int find_handle(const struct nvml_real *n, CUdevice dev, nvmlDevice_t *out)
{
  if (dev < 0 || dev >= GPUMEM_MAX_GPUS) return -1;
  if (looked_up[dev]) {
    *out = handles[dev];
    return handles[dev] ? 0 : -1;
  }
  looked_up[dev] = 1;
  cuDeviceGetUuid_fn get_uuid = (cuDeviceGetUuid_fn)symbols_driver("cuDeviceGetUuid_v2");
  if (!get_uuid) get_uuid = (cuDeviceGetUuid_fn)symbols_driver("cuDeviceGetUuid");
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
      handles[dev] = *out = h;
      return 0;
    }
  }
  return -1;
}

/* Free memory, read until two consecutive readings agree; *stable = 0 if they never did. */
static int read_free(const struct nvml_real *n, nvmlDevice_t h, uint64_t *free_bytes, int *stable)
{
  nvmlMemory_t mem;
  if (n->memory(h, &mem) != NVML_SUCCESS) return -1;
  uint64_t last = mem.free;
  *stable = 0;
  for (int i = 1; i < READS && !*stable; i++) {
    if (n->memory(h, &mem) != NVML_SUCCESS) return -1;
    *stable = mem.free == last;
    last = mem.free;
  }
  *free_bytes = last;
  return 0;
}

/* This pid's memory on the device as NVML lists it: 1 listed, 0 not listed, -1 unknown. */
static int read_process(const struct nvml_real *n, nvmlDevice_t h, uint64_t *used)
{
  if (!n->processes) return -1;
  nvmlProcessInfo_t infos[128];
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

void ctx_measure_begin(CUdevice dev, struct ctx_measure *m)
{
  memset(m, 0, sizeof *m);
  const struct nvml_real *n = nvml_real();
  if (!n || find_handle(n, dev, &m->handle)) return;
  if (read_free(n, m->handle, &m->free_before, &m->free_stable)) return;
  if (read_process(n, m->handle, &m->proc_before) != 1) m->proc_before = 0;
  m->nvml = 1;
}

static uint64_t clamp(uint64_t v) { return v > CONTEXT_CHARGE_MAX ? CONTEXT_CHARGE_MAX : v; }

uint64_t ctx_measure_end(struct ctx_measure *m)
{
  const struct nvml_real *n = nvml_real();
  if (!m->nvml || !n) return 0; /* no NVML, or the device is not one NVML knows (see README) */
  uint64_t after = 0, proc_after = 0;
  int stable = 0;
  int have_free = read_free(n, m->handle, &after, &stable) == 0;
  int have_proc = read_process(n, m->handle, &proc_after) == 1 && proc_after >= m->proc_before;
  uint64_t proc = have_proc ? proc_after - m->proc_before : 0;
  int delta_ok = have_free && m->free_stable && stable && after <= m->free_before &&
                 m->free_before - after <= CONTEXT_CHARGE_MAX;
  uint64_t delta = have_free && after <= m->free_before ? m->free_before - after : 0;
  /* 1. Our own per-process figure when it disagrees with (or replaces) a disturbed delta. */
  if (have_proc && (!delta_ok || delta > proc + AGREE || proc > delta + AGREE)) return clamp(proc);
  /* 2. The device's free memory, measured undisturbed. */
  if (delta_ok) return delta;
  /* 3. Disturbed and no per-process figure: the best bound there is (freed meanwhile: 0). */
  return clamp(delta);
}

void ctx_measure_reset(void)
{
  memset(looked_up, 0, sizeof looked_up);
  memset(handles, 0, sizeof handles);
}
