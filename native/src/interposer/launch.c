/* Kernel launches: the first launch of a kernel is where the driver loads its code (lazy module
 * loading, CUDA's default) and grows local memory when the kernel needs more per thread than
 * any before. Neither shows in an allocation call. So a kernel not seen before takes the slow
 * path: local memory growth is provisioned (and refused with CUDA_ERROR_OUT_OF_MEMORY if it does
 * not fit), the kernel is launched, and what the driver took is measured at once. Every later
 * launch costs one budget-mode load and one probe of a lock-free set. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "../common/cuda_api.h"
#include "../format/config.h"
#include "budget.h"
#include "current_device.h"
#include "driver_fns.h"
#include "export.h"
#include "fork_reset.h"
#include "local_memory.h"
#include "reconcile.h"
#include "symbols.h"

/* ---- kernels seen: an insert-only open-addressing set of (kernel, device) keys ------------ */

#define SEEN_SLOTS (1u << 17) /* 1 MiB, allocated at the first launch under a budget */
#define SEEN_PROBES 32

static uintptr_t *seen;
static int several_devices; /* keys carry the device once a second one launched anything */
static int first_device = -1;

static inline uint32_t slot_of(uintptr_t k)
{
  k ^= k >> 31;
  k *= 0x9e3779b97f4a7c15ULL;
  return (uint32_t)(k >> 40) & (SEEN_SLOTS - 1);
}

static inline int was_seen(uintptr_t key)
{
  uintptr_t *t = __atomic_load_n(&seen, __ATOMIC_ACQUIRE);
  if (!t) return 0;
  for (uint32_t i = 0, s = slot_of(key); i < SEEN_PROBES; i++, s = (s + 1) & (SEEN_SLOTS - 1)) {
    uintptr_t v = __atomic_load_n(&t[s], __ATOMIC_RELAXED);
    if (v == key) return 1;
    if (v == 0) return 0;
  }
  return 0;
}

/* A full neighbourhood leaves the kernel unrecorded: it keeps taking the slow path, which is
 * correct, only slower. */
static void mark_seen(uintptr_t key)
{
  uintptr_t *t = __atomic_load_n(&seen, __ATOMIC_ACQUIRE);
  if (!t) {
    uintptr_t *fresh = calloc(SEEN_SLOTS, sizeof *fresh);
    if (!fresh) return;
    uintptr_t *expected = NULL;
    if (!__atomic_compare_exchange_n(&seen, &expected, fresh, 0, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE)) {
      free(fresh);
      t = expected;
    } else {
      t = fresh;
    }
  }
  for (uint32_t i = 0, s = slot_of(key); i < SEEN_PROBES; i++, s = (s + 1) & (SEEN_SLOTS - 1)) {
    uintptr_t v = __atomic_load_n(&t[s], __ATOMIC_RELAXED);
    if (v == key) return;
    if (v == 0 && __atomic_compare_exchange_n(&t[s], &v, key, 0, __ATOMIC_RELEASE,
                                              __ATOMIC_RELAXED))
      return;
    if (v == key) return;
  }
}

static pthread_once_t fork_once = PTHREAD_ONCE_INIT;
static void after_fork_child(void)
{
  /* The child's kernels must load again in its own contexts. */
  uintptr_t *t = seen;
  seen = NULL;
  free(t);
  several_devices = 0;
  first_device = -1;
}
static void register_fork(void) { fork_reset_register(after_fork_child); }

/* User-space pointers fit in 48 bits: the device goes above them. */
static inline uintptr_t key_of(CUfunction f, int dev)
{
  return (uintptr_t)f ^ ((uintptr_t)(unsigned)(dev + 1) << 52);
}

/* The launch's key, or 0 when the budget does not concern it (then the launch just goes). */
static inline uintptr_t launch_key(CUfunction f, int *dev)
{
  if (__builtin_expect(budget_mode() != BUDGET_ENFORCE, 0) || !f) return 0;
  *dev = -1;
  if (!__atomic_load_n(&several_devices, __ATOMIC_RELAXED)) return key_of(f, 0);
  CUdevice d;
  if (current_device(&d) != CUDA_SUCCESS || d < 0 || d >= GPUMEM_MAX_GPUS) return 0;
  *dev = d;
  return key_of(f, d + 1);
}

/* Local memory per thread the kernel needs; 0 when the driver does not say. A CUkernel (from
 * cuLibraryGetKernel) may be launched as a CUfunction: then it is asked as a kernel. */
static uint64_t local_size(CUfunction f, CUdevice dev)
{
  cuFuncGetAttribute_fn func_attr = (cuFuncGetAttribute_fn)driver_fn(DRV_cuFuncGetAttribute);
  cuKernelGetAttribute_fn kernel_attr =
    (cuKernelGetAttribute_fn)driver_fn(DRV_cuKernelGetAttribute);
  int v = 0;
  if (func_attr && func_attr(&v, CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES, f) == CUDA_SUCCESS && v > 0)
    return (uint64_t)v;
  v = 0;
  if (kernel_attr &&
      kernel_attr(&v, CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES, (CUkernel)f, dev) == CUDA_SUCCESS &&
      v > 0)
    return (uint64_t)v;
  return 0;
}

struct first_launch {
  int dev;
  uint64_t per_thread, grown;
};

/* Before a kernel's first launch: -1 (refuse, counted) when its local memory growth or its
 * code does not fit. */
static int before_first(CUfunction f, int dev_hint, struct first_launch *fl)
{
  pthread_once(&fork_once, register_fork);
  CUdevice dev = dev_hint;
  if (dev < 0 && (current_device(&dev) != CUDA_SUCCESS || dev < 0 || dev >= GPUMEM_MAX_GPUS)) {
    fl->dev = -1;
    return 0; /* no context: the driver gives its own error */
  }
  int first = -1; /* the first device launched on; a second one turns device keys on */
  if (__atomic_compare_exchange_n(&first_device, &first, dev, 0, __ATOMIC_RELAXED,
                                  __ATOMIC_RELAXED))
    first = dev;
  if (first != dev) __atomic_store_n(&several_devices, 1, __ATOMIC_RELAXED);
  fl->dev = dev;
  /* Code loads with the launch and cannot be refused once it runs: the process's first launch
   * (the bulk of its code) needs room for it, and none loads on top of a budget already passed
   * (by code loaded at an earlier launch while full, charged after it). */
  uint64_t used, limit = budget_limit(dev, &used);
  uint64_t need = reconcile_first_launch_need(dev); /* the process's first: its bulk; then 0 */
  if (limit && (used > limit || need > limit - used)) {
    fl->dev = -1;
    budget_refused(dev);
    return -1;
  }
  fl->per_thread = local_size(f, dev);
  fl->grown = 0;
  if (local_memory_grow(dev, fl->per_thread, &fl->grown) == 0) return 0;
  budget_refused(dev);
  return -1;
}

/* After it: what the driver took (code, local memory) is measured now, not at the next tick. */
static CUresult after_first(CUresult rc, uintptr_t key, const struct first_launch *fl)
{
  if (fl->dev < 0) return rc;
  if (rc != CUDA_SUCCESS) {
    local_memory_undo(fl->dev, fl->per_thread, fl->grown);
    return rc;
  }
  mark_seen(key);
  reconcile_first_launch(fl->dev);
  reconcile_now(fl->dev, RECONCILE_FORCE);
  return rc;
}

#define LAUNCH(sym, fn_t, f, ...)                                                            \
  do {                                                                                       \
    fn_t real = (fn_t)symbols_real(sym);                                                     \
    if (!real) return CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND;                             \
    int dev;                                                                                 \
    uintptr_t key = launch_key(f, &dev);                                                     \
    if (!key || was_seen(key)) return real(__VA_ARGS__);                                     \
    struct first_launch fl;                                                                  \
    if (before_first(f, dev, &fl)) return CUDA_ERROR_OUT_OF_MEMORY;                          \
    return after_first(real(__VA_ARGS__), key, &fl);                                         \
  } while (0)

GPUMEM_EXPORT CUresult cuLaunchKernel(CUfunction f, unsigned int gx, unsigned int gy,
                                      unsigned int gz, unsigned int bx, unsigned int by,
                                      unsigned int bz, unsigned int shared, CUstream s,
                                      void **params, void **extra)
{
  LAUNCH(SYM_cuLaunchKernel, cuLaunchKernel_fn, f, f, gx, gy, gz, bx, by, bz, shared, s, params,
         extra);
}

GPUMEM_EXPORT CUresult cuLaunchKernel_ptsz(CUfunction f, unsigned int gx, unsigned int gy,
                                           unsigned int gz, unsigned int bx, unsigned int by,
                                           unsigned int bz, unsigned int shared, CUstream s,
                                           void **params, void **extra)
{
  LAUNCH(SYM_cuLaunchKernel_ptsz, cuLaunchKernel_fn, f, f, gx, gy, gz, bx, by, bz, shared, s,
         params, extra);
}

GPUMEM_EXPORT CUresult cuLaunchKernelEx(const CUlaunchConfig *config, CUfunction f, void **params,
                                        void **extra)
{
  LAUNCH(SYM_cuLaunchKernelEx, cuLaunchKernelEx_fn, f, config, f, params, extra);
}

GPUMEM_EXPORT CUresult cuLaunchKernelEx_ptsz(const CUlaunchConfig *config, CUfunction f,
                                             void **params, void **extra)
{
  LAUNCH(SYM_cuLaunchKernelEx_ptsz, cuLaunchKernelEx_fn, f, config, f, params, extra);
}

GPUMEM_EXPORT CUresult cuLaunchCooperativeKernel(CUfunction f, unsigned int gx, unsigned int gy,
                                                 unsigned int gz, unsigned int bx, unsigned int by,
                                                 unsigned int bz, unsigned int shared, CUstream s,
                                                 void **params)
{
  LAUNCH(SYM_cuLaunchCooperativeKernel, cuLaunchCooperativeKernel_fn, f, f, gx, gy, gz, bx, by, bz,
         shared, s, params);
}

GPUMEM_EXPORT CUresult cuLaunchCooperativeKernel_ptsz(CUfunction f, unsigned int gx,
                                                      unsigned int gy, unsigned int gz,
                                                      unsigned int bx, unsigned int by,
                                                      unsigned int bz, unsigned int shared,
                                                      CUstream s, void **params)
{
  LAUNCH(SYM_cuLaunchCooperativeKernel_ptsz, cuLaunchCooperativeKernel_fn, f, f, gx, gy, gz, bx,
         by, bz, shared, s, params);
}
