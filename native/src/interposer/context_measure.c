/* Context cost = the device's free memory before minus after the creation, read from NVML (no
 * driver call can tell "before": there is no context yet). Both readings come from NVML so that
 * driver-reserved memory, which NVML and cuMemGetInfo count differently, cancels out. Another
 * process allocating meanwhile would leak into that difference, so the readings are repeated
 * until stable and cross-checked with NVML's per-process figure for our pid, which no other
 * process can disturb (inside a container's pid namespace too, from driver 535 on). See
 * README.md, "Context memory". */
#include "context_measure.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../format/config.h"
#include "nvml_device.h"
#include "nvml_library.h"

#define READS 6
#define AGREE (UINT64_C(64) << 20) /* per-process and device figures closer than this agree */

/* Free memory, read until two consecutive readings agree; *stable = 0 if they never did. */
static int read_free(const struct nvml_library *n, nvmlDevice_t h, uint64_t *free_bytes, int *stable)
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

void ctx_measure_begin(CUdevice dev, struct ctx_measure *m)
{
  memset(m, 0, sizeof *m);
  const struct nvml_library *n = nvml_library();
  if (!n || nvml_device_handle(n, dev, &m->handle)) return;
  if (read_free(n, m->handle, &m->free_before, &m->free_stable)) return;
  if (nvml_device_process_used(n, m->handle, &m->proc_before) != 1) m->proc_before = 0;
  m->nvml = 1;
}

static uint64_t clamp(uint64_t v) { return v > CONTEXT_CHARGE_MAX ? CONTEXT_CHARGE_MAX : v; }

uint64_t ctx_measure_end(struct ctx_measure *m)
{
  const struct nvml_library *n = nvml_library();
  if (!m->nvml || !n) return 0; /* no NVML, or the device is not one NVML knows (see README) */
  uint64_t after = 0, proc_after = 0;
  int stable = 0;
  int have_free = read_free(n, m->handle, &after, &stable) == 0;
  int have_proc = nvml_device_process_used(n, m->handle, &proc_after) == 1 && proc_after >= m->proc_before;
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
