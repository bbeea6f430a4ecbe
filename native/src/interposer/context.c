/* Context creation and destruction wrappers: a context's own device memory (~0.5 GiB on an H200,
 * shown by no allocation call) is measured when the driver creates it and charged to the budget
 * like an allocation; a context the budget cannot hold is destroyed again and refused. The
 * primary context is charged once however often it is retained, and given back when the driver
 * says it is no longer active. */
#include <pthread.h>
#include <stdlib.h>

#include "../common/cuda.h"
#include "../format/config.h"
#include "budget.h"
#include "charge.h"
#include "context_measure.h"
#include "driver_fns.h"
#include "export.h"
#include "fork_reset.h"
#include "reconcile.h"
#include "symbols.h"

struct created_ctx {
  CUcontext ctx;
  int dev;
  uint64_t bytes;
};

/* Context calls are rare and slow in the driver; one lock keeps each measurement alone. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t primary_bytes[GPUMEM_MAX_GPUS];
static int primary_charged[GPUMEM_MAX_GPUS];
static struct created_ctx *created;
static size_t ncreated, created_cap;
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

/* A forked child has none of its parent's contexts (CUDA cannot be used across fork). */
static void after_fork_child(void)
{
  pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
  lock = fresh;
  for (int d = 0; d < GPUMEM_MAX_GPUS; d++) primary_bytes[d] = 0, primary_charged[d] = 0;
  ncreated = 0;
}

static void register_fork(void) { fork_reset_register(after_fork_child); }

static int measuring(const void *out, CUdevice dev)
{
  if (!out || dev < 0 || dev >= GPUMEM_MAX_GPUS || budget_mode() != BUDGET_ENFORCE) return 0;
  pthread_once(&fork_once, register_fork);
  return 1;
}

/* 1 active, 0 inactive, -1 unknown. */
static int primary_active(CUdevice dev)
{
  cuDevicePrimaryCtxGetState_fn f =
    (cuDevicePrimaryCtxGetState_fn)driver_fn(DRV_cuDevicePrimaryCtxGetState);
  unsigned int flags;
  int active;
  if (!f || f(dev, &flags, &active) != CUDA_SUCCESS) return -1;
  return active != 0;
}

static void release_primary_real(CUdevice dev)
{
  cuDevicePrimaryCtxRelease_v2_fn f =
    (cuDevicePrimaryCtxRelease_v2_fn)symbols_real(SYM_cuDevicePrimaryCtxRelease_v2);
  if (!f) f = (cuDevicePrimaryCtxRelease_v2_fn)driver_fn(DRV_cuDevicePrimaryCtxRelease);
  if (f) f(dev);
}

static void destroy_real(CUcontext ctx)
{
  cuCtxDestroy_v2_fn f = (cuCtxDestroy_v2_fn)symbols_real(SYM_cuCtxDestroy_v2);
  if (f) f(ctx);
}

/* Before a creation: reserve what a context cost last time (shared by the container), so that
 * the creation itself cannot take the device past the budget. -1: refused, do not create. */
static int reserve_estimate(CUdevice dev, uint64_t *estimate)
{
  *estimate = budget_context_estimate(dev);
  return *estimate && budget_reserve(dev, *estimate) ? -1 : 0;
}

/* After a context's own charge was settled: the reserve for the code it will load, and what the
 * driver took beyond what was measured; -1 (its charge returned as well) if that does not fit. */
static int held_back(CUdevice dev, uint64_t bytes)
{
  if (reconcile_context_up(dev, bytes) == 0) return 0;
  if (bytes) budget_release(dev, bytes);
  return -1;
}

/* After it: the charge becomes what was measured; -1 (nothing left charged) if that does not fit. */
static int settle_charge(CUdevice dev, uint64_t estimate, uint64_t bytes)
{
  if (bytes > estimate && budget_reserve(dev, bytes - estimate)) {
    if (estimate) budget_release(dev, estimate);
    return -1;
  }
  if (bytes < estimate) budget_release(dev, estimate - bytes);
  budget_note_context(dev, bytes);
  return 0;
}

GPUMEM_EXPORT CUresult cuDevicePrimaryCtxRetain(CUcontext *pctx, CUdevice dev)
{
  cuDevicePrimaryCtxRetain_fn real =
    (cuDevicePrimaryCtxRetain_fn)symbols_real(SYM_cuDevicePrimaryCtxRetain);
  if (!real) return CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND;
  if (!measuring(pctx, dev)) return real(pctx, dev);
  pthread_mutex_lock(&lock);
  CUresult rc;
  /* Already charged, or already alive without us having seen it made: nothing to measure. */
  if (primary_charged[dev] || primary_active(dev) != 0) {
    rc = real(pctx, dev);
  } else {
    struct ctx_measure m;
    uint64_t estimate;
    if (reserve_estimate(dev, &estimate)) {
      pthread_mutex_unlock(&lock);
      return charge_refused(dev);
    }
    ctx_measure_begin(dev, &m);
    rc = real(pctx, dev);
    if (rc != CUDA_SUCCESS) {
      if (estimate) budget_release(dev, estimate);
    } else {
      uint64_t bytes = ctx_measure_end(&m);
      if (settle_charge(dev, estimate, bytes) || held_back(dev, bytes)) {
        release_primary_real(dev); /* our retain was the only one: the context goes away */
        *pctx = NULL;
        rc = charge_refused(dev);
      } else {
        primary_bytes[dev] = bytes;
        primary_charged[dev] = 1;
      }
    }
  }
  pthread_mutex_unlock(&lock);
  return rc;
}

static void uncharge_primary_locked(CUdevice dev)
{
  if (!primary_charged[dev]) return;
  if (primary_bytes[dev]) budget_release(dev, primary_bytes[dev]);
  primary_bytes[dev] = 0;
  primary_charged[dev] = 0;
  reconcile_context_down(dev);
}

GPUMEM_EXPORT CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev)
{
  cuDevicePrimaryCtxRelease_v2_fn real =
    (cuDevicePrimaryCtxRelease_v2_fn)symbols_real(SYM_cuDevicePrimaryCtxRelease_v2);
  if (!real) return CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND;
  CUresult rc = real(dev);
  if (rc == CUDA_SUCCESS && dev >= 0 && dev < GPUMEM_MAX_GPUS) {
    pthread_mutex_lock(&lock);
    /* The driver counts retains (cudart's and the program's); it knows when the last went. */
    if (primary_charged[dev] && primary_active(dev) == 0) uncharge_primary_locked(dev);
    pthread_mutex_unlock(&lock);
  }
  return rc;
}

GPUMEM_EXPORT CUresult cuDevicePrimaryCtxReset_v2(CUdevice dev)
{
  cuDevicePrimaryCtxReset_v2_fn real =
    (cuDevicePrimaryCtxReset_v2_fn)symbols_real(SYM_cuDevicePrimaryCtxReset_v2);
  if (!real) return CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND;
  CUresult rc = real(dev);
  if (rc == CUDA_SUCCESS && dev >= 0 && dev < GPUMEM_MAX_GPUS) {
    pthread_mutex_lock(&lock);
    uncharge_primary_locked(dev);
    pthread_mutex_unlock(&lock);
  }
  return rc;
}

/* After a cuCtxCreate*: charge what it took, or destroy it again when the budget cannot hold it. */
static CUresult settle_created(CUresult rc, CUcontext *pctx, CUdevice dev, struct ctx_measure *m,
                               uint64_t estimate)
{
  if (rc != CUDA_SUCCESS) {
    if (estimate) budget_release(dev, estimate);
    return rc;
  }
  uint64_t bytes = ctx_measure_end(m);
  if (settle_charge(dev, estimate, bytes) || held_back(dev, bytes)) {
    destroy_real(*pctx);
    *pctx = NULL;
    return charge_refused(dev);
  }
  /* Recorded even when it cost nothing measurable: its destruction ends what it holds back. */
  if (ncreated == created_cap) {
    size_t ncap = created_cap ? created_cap * 2 : 8;
    struct created_ctx *n = realloc(created, ncap * sizeof *n);
    if (!n) { /* could never uncharge it: refuse rather than leak a charge */
      if (bytes) budget_release(dev, bytes);
      reconcile_context_down(dev);
      destroy_real(*pctx);
      *pctx = NULL;
      return CUDA_ERROR_OUT_OF_MEMORY;
    }
    created = n;
    created_cap = ncap;
  }
  created[ncreated++] = (struct created_ctx){*pctx, dev, bytes};
  return rc;
}

GPUMEM_EXPORT CUresult cuCtxCreate_v2(CUcontext *pctx, unsigned int flags, CUdevice dev)
{
  cuCtxCreate_v2_fn real = (cuCtxCreate_v2_fn)symbols_real(SYM_cuCtxCreate_v2);
  if (!real) return CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND;
  if (!measuring(pctx, dev)) return real(pctx, flags, dev);
  struct ctx_measure m;
  uint64_t estimate;
  pthread_mutex_lock(&lock);
  if (reserve_estimate(dev, &estimate)) {
    pthread_mutex_unlock(&lock);
    return charge_refused(dev);
  }
  ctx_measure_begin(dev, &m);
  CUresult rc = settle_created(real(pctx, flags, dev), pctx, dev, &m, estimate);
  pthread_mutex_unlock(&lock);
  return rc;
}

GPUMEM_EXPORT CUresult cuCtxCreate_v3(CUcontext *pctx, CUexecAffinityParam *paramsArray,
                                      int numParams, unsigned int flags, CUdevice dev)
{
  cuCtxCreate_v3_fn real = (cuCtxCreate_v3_fn)symbols_real(SYM_cuCtxCreate_v3);
  if (!real) return CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND;
  if (!measuring(pctx, dev)) return real(pctx, paramsArray, numParams, flags, dev);
  struct ctx_measure m;
  uint64_t estimate;
  pthread_mutex_lock(&lock);
  if (reserve_estimate(dev, &estimate)) {
    pthread_mutex_unlock(&lock);
    return charge_refused(dev);
  }
  ctx_measure_begin(dev, &m);
  CUresult rc = settle_created(real(pctx, paramsArray, numParams, flags, dev), pctx, dev, &m, estimate);
  pthread_mutex_unlock(&lock);
  return rc;
}

GPUMEM_EXPORT CUresult cuCtxCreate_v4(CUcontext *pctx, CUctxCreateParams *ctxCreateParams,
                                      unsigned int flags, CUdevice dev)
{
  cuCtxCreate_v4_fn real = (cuCtxCreate_v4_fn)symbols_real(SYM_cuCtxCreate_v4);
  if (!real) return CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND;
  if (!measuring(pctx, dev)) return real(pctx, ctxCreateParams, flags, dev);
  struct ctx_measure m;
  uint64_t estimate;
  pthread_mutex_lock(&lock);
  if (reserve_estimate(dev, &estimate)) {
    pthread_mutex_unlock(&lock);
    return charge_refused(dev);
  }
  ctx_measure_begin(dev, &m);
  CUresult rc = settle_created(real(pctx, ctxCreateParams, flags, dev), pctx, dev, &m, estimate);
  pthread_mutex_unlock(&lock);
  return rc;
}

GPUMEM_EXPORT CUresult cuCtxDestroy_v2(CUcontext ctx)
{
  cuCtxDestroy_v2_fn real = (cuCtxDestroy_v2_fn)symbols_real(SYM_cuCtxDestroy_v2);
  if (!real) return CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND;
  pthread_mutex_lock(&lock);
  CUresult rc = real(ctx);
  if (rc == CUDA_SUCCESS)
    for (size_t i = 0; i < ncreated; i++)
      if (created[i].ctx == ctx) {
        if (created[i].bytes) budget_release(created[i].dev, created[i].bytes);
        reconcile_context_down(created[i].dev);
        created[i] = created[--ncreated];
        break;
      }
  pthread_mutex_unlock(&lock);
  return rc;
}
