/* Stream-ordered allocation (cuMemAllocAsync, pools): a pool is charged by what it has reserved
 * on the device, which is what the host sees, not by the sum of its live allocations. */
#include "memory_async.h"

#include <pthread.h>
#include <stddef.h>

#include "../format/config.h"
#include "budget.h"
#include "charge.h"
#include "current_device.h"
#include "driver_fns.h"
#include "export.h"
#include "fork_reset.h"
#include "symbols.h"

#define MAX_POOLS 256

/* One pool this process allocated from. Its lock is held across reserve, driver call and
 * re-read, so that each re-read settles exactly the reservations made before it. */
struct pool_rec {
  CUmemoryPool pool; /* NULL: free row */
  int dev;           /* -1: not device memory (a host pool), never charged */
  struct async_charge c;
  pthread_mutex_t lock;
};

static struct pool_rec pools[MAX_POOLS] = {[0 ... MAX_POOLS - 1] = {.lock = PTHREAD_MUTEX_INITIALIZER}};
static pthread_mutex_t pools_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

/* The child of fork() is another process with no pools of its own (its budget slot is fresh). */
static void after_fork_child(void)
{
  for (int i = 0; i < MAX_POOLS; i++) {
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    pools[i].lock = fresh;
    pools[i].pool = NULL;
  }
  pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
  pools_lock = fresh;
}
static void register_fork(void) { fork_reset_register(after_fork_child); }

int async_settle(struct async_charge *c, int dev, uint64_t pending, uint64_t now, int may_refuse)
{
  uint64_t held = c->charged + pending;
  if (now > held) {
    if (budget_reserve(dev, now - held) != 0) {
      if (may_refuse) return -1;
      budget_charge_held(dev, now - held);
    }
  } else if (now < held) {
    budget_release(dev, held - now);
  }
  c->charged = now;
  return 0;
}

int async_stream_device(CUstream stream, CUdevice *dev)
{
  /* NULL, CU_STREAM_LEGACY (1) and CU_STREAM_PER_THREAD (2) are the current context's. */
  cuStreamGetDevice_fn f = (uintptr_t)stream > 2
                             ? (cuStreamGetDevice_fn)driver_fn(DRV_cuStreamGetDevice)
                             : NULL;
  if (!(f && f(stream, dev) == CUDA_SUCCESS) && current_device(dev) != CUDA_SUCCESS) return -1;
  return *dev >= 0 && *dev < GPUMEM_MAX_GPUS ? 0 : -1;
}

/* A pool attribute (cuuint64_t), or `otherwise` when the driver cannot say. */
static uint64_t pool_attr(CUmemoryPool pool, CUmemPool_attribute attr, uint64_t otherwise)
{
  cuMemPoolGetAttribute_fn f = (cuMemPoolGetAttribute_fn)driver_fn(DRV_cuMemPoolGetAttribute);
  cuuint64_t v;
  return f && f(pool, attr, &v) == CUDA_SUCCESS ? v : otherwise;
}

/* The row of pool, added (for device dev; -1 = host) if new; NULL when the table is full. */
static struct pool_rec *pool_row(CUmemoryPool pool, int dev, int replace)
{
  pthread_once(&fork_once, register_fork);
  struct pool_rec *r = NULL, *free_row = NULL;
  pthread_mutex_lock(&pools_lock);
  for (int i = 0; i < MAX_POOLS && !r; i++) {
    if (pools[i].pool == pool) r = &pools[i];
    else if (!pools[i].pool && !free_row) free_row = &pools[i];
  }
  if (r && replace) r->dev = dev; /* a handle the driver reuses for a new pool */
  if (!r && (r = free_row)) {
    r->c = (struct async_charge){0, 0};
    r->dev = dev;
    __atomic_store_n(&r->pool, pool, __ATOMIC_RELEASE); /* refresh_all reads it unlocked */
  }
  pthread_mutex_unlock(&pools_lock);
  return r;
}

/* Sets r's charge to what its pool holds now; r->lock held. */
static void refresh(struct pool_rec *r)
{
  async_settle(&r->c, r->dev, 0, pool_attr(r->pool, CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT,
                                           r->c.charged), 0);
}

static int capturing(CUstream stream, int ptsz)
{
  cuStreamIsCapturing_fn f = (cuStreamIsCapturing_fn)driver_fn(
    ptsz ? DRV_cuStreamIsCapturing_ptsz : DRV_cuStreamIsCapturing);
  int status;
  return f && f(stream, &status) == CUDA_SUCCESS && status != CU_STREAM_CAPTURE_STATUS_NONE;
}

/* Charges, before the driver is asked, an upper bound of how much the pool may grow; *pending is
 * what was charged. -1: the budget cannot hold it even after the pool gave back what it does
 * not use. r->lock held. */
static int reserve_growth(struct pool_rec *r, size_t size, CUstream stream, int ptsz,
                          uint64_t *pending)
{
  uint64_t want = async_round(size) + r->c.overgrowth;
  *pending = 0;
  if (budget_reserve(r->dev, want) == 0) {
    *pending = want;
    return 0;
  }
  /* Served from memory the pool already holds (and is charged for): nothing grows. If it grows
   * after all (fragmentation), the settle afterwards refuses and undoes it. */
  uint64_t reserved = pool_attr(r->pool, CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT, 0);
  uint64_t used = pool_attr(r->pool, CU_MEMPOOL_ATTR_USED_MEM_CURRENT, reserved);
  if (reserved >= used && reserved - used >= size) return 0;
  /* Captured into a graph: no memory now; graph launches are charged (graph_mem.c). */
  if (capturing(stream, ptsz)) return 0;
  /* Trimming only releases memory no allocation uses, so it needs no synchronization. */
  cuMemPoolTrimTo_fn trim = (cuMemPoolTrimTo_fn)symbols_real(SYM_cuMemPoolTrimTo);
  if (trim && trim(r->pool, 0) == CUDA_SUCCESS) refresh(r);
  if (budget_reserve(r->dev, want) == 0) {
    *pending = want;
    return 0;
  }
  return -1;
}

/* The driver grew the pool past what the budget can hold: give the block back, wait for the
 * stream to reach that free, trim, and charge what is left. r->lock held. */
static void undo(struct pool_rec *r, CUdeviceptr ptr, CUstream stream, int ptsz, uint64_t pending)
{
  cuMemFreeAsync_fn f =
    (cuMemFreeAsync_fn)symbols_real(ptsz ? SYM_cuMemFreeAsync_ptsz : SYM_cuMemFreeAsync);
  cuStreamSynchronize_fn sync = (cuStreamSynchronize_fn)driver_fn(
    ptsz ? DRV_cuStreamSynchronize_ptsz : DRV_cuStreamSynchronize);
  cuMemPoolTrimTo_fn trim = (cuMemPoolTrimTo_fn)symbols_real(SYM_cuMemPoolTrimTo);
  if (f && f(ptr, stream) == CUDA_SUCCESS && sync) sync(stream);
  if (trim) trim(r->pool, 0);
  uint64_t now = pool_attr(r->pool, CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT, r->c.charged + pending);
  async_settle(&r->c, r->dev, pending, now, 0);
}

static CUresult alloc_async(int ptsz, CUdeviceptr *dptr, size_t size, CUmemoryPool pool,
                            CUstream stream)
{
  enum gpumem_sym id = pool ? (ptsz ? SYM_cuMemAllocFromPoolAsync_ptsz : SYM_cuMemAllocFromPoolAsync)
                            : (ptsz ? SYM_cuMemAllocAsync_ptsz : SYM_cuMemAllocAsync);
  void *real = symbols_real(id);
  if (!real) return CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND;
#define CALL()                                                                              \
  (pool ? ((cuMemAllocFromPoolAsync_fn)real)(dptr, size, pool, stream)                      \
        : ((cuMemAllocAsync_fn)real)(dptr, size, stream))
  enum budget_mode m = budget_mode();
  if (m == BUDGET_CLOSED) return CUDA_ERROR_OUT_OF_MEMORY;
  CUdevice dev;
  if (m == BUDGET_OFF || !dptr || size == 0 || async_stream_device(stream, &dev)) return CALL();
  CUmemoryPool p = pool;
  if (!p) { /* the stream's device's current pool, which cuDeviceSetMemPool may change */
    cuDeviceGetMemPool_fn get = (cuDeviceGetMemPool_fn)driver_fn(DRV_cuDeviceGetMemPool);
    if (!get || get(&p, dev) != CUDA_SUCCESS || !p) return CALL();
  }
  /* A pool not created through us (a default pool passed explicitly) is the stream's device's. */
  struct pool_rec *r = pool_row(p, dev, 0);
  if (!r) return CUDA_ERROR_OUT_OF_MEMORY; /* cannot account for it: fail closed */
  if (r->dev < 0) return CALL();
  pthread_mutex_lock(&r->lock);
  uint64_t pending, before = r->c.charged;
  if (reserve_growth(r, size, stream, ptsz, &pending)) {
    pthread_mutex_unlock(&r->lock);
    return charge_refused(r->dev);
  }
  CUresult rc = CALL();
  uint64_t now = pool_attr(p, CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT, r->c.charged + pending);
  if (rc != CUDA_SUCCESS) {
    async_settle(&r->c, r->dev, pending, now, 0);
  } else if (async_settle(&r->c, r->dev, pending, now, 1)) {
    undo(r, *dptr, stream, ptsz, pending);
    rc = charge_refused(r->dev);
  }
  /* Learn how far past the request this pool grows, so the next reservation covers it. */
  if (now > before && now - before > async_round(size) &&
      now - before - async_round(size) > r->c.overgrowth)
    r->c.overgrowth = now - before - async_round(size);
  pthread_mutex_unlock(&r->lock);
  return rc;
#undef CALL
}

/* After a free the pools may hold less (most often they keep it until trimmed or synchronized,
 * and then the charge correctly stays). */
static void refresh_all(void)
{
  for (int i = 0; i < MAX_POOLS; i++) {
    struct pool_rec *r = &pools[i];
    if (!__atomic_load_n(&r->pool, __ATOMIC_ACQUIRE) || r->dev < 0) continue;
    pthread_mutex_lock(&r->lock);
    if (r->pool) refresh(r);
    pthread_mutex_unlock(&r->lock);
  }
}

static CUresult free_async(int ptsz, CUdeviceptr ptr, CUstream stream)
{
  cuMemFreeAsync_fn real =
    (cuMemFreeAsync_fn)symbols_real(ptsz ? SYM_cuMemFreeAsync_ptsz : SYM_cuMemFreeAsync);
  if (!real) return CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND;
  CUresult rc = real(ptr, stream);
  if (rc == CUDA_SUCCESS && budget_mode() == BUDGET_ENFORCE) refresh_all();
  return rc;
}

GPUMEM_EXPORT CUresult cuMemAllocAsync(CUdeviceptr *dptr, size_t bytesize, CUstream hStream)
{
  return alloc_async(0, dptr, bytesize, NULL, hStream);
}

GPUMEM_EXPORT CUresult cuMemAllocAsync_ptsz(CUdeviceptr *dptr, size_t bytesize, CUstream hStream)
{
  return alloc_async(1, dptr, bytesize, NULL, hStream);
}

GPUMEM_EXPORT CUresult cuMemAllocFromPoolAsync(CUdeviceptr *dptr, size_t bytesize,
                                               CUmemoryPool pool, CUstream hStream)
{
  if (!pool) return CUDA_ERROR_INVALID_VALUE; /* NULL would mean "the default pool" to us */
  return alloc_async(0, dptr, bytesize, pool, hStream);
}

GPUMEM_EXPORT CUresult cuMemAllocFromPoolAsync_ptsz(CUdeviceptr *dptr, size_t bytesize,
                                                    CUmemoryPool pool, CUstream hStream)
{
  if (!pool) return CUDA_ERROR_INVALID_VALUE;
  return alloc_async(1, dptr, bytesize, pool, hStream);
}

GPUMEM_EXPORT CUresult cuMemFreeAsync(CUdeviceptr dptr, CUstream hStream)
{
  return free_async(0, dptr, hStream);
}

GPUMEM_EXPORT CUresult cuMemFreeAsync_ptsz(CUdeviceptr dptr, CUstream hStream)
{
  return free_async(1, dptr, hStream);
}

/* Remembers where the pool's memory lives: only device-located pools are charged. */
GPUMEM_EXPORT CUresult cuMemPoolCreate(CUmemoryPool *pool, const CUmemPoolProps *props)
{
  cuMemPoolCreate_fn real = (cuMemPoolCreate_fn)symbols_real(SYM_cuMemPoolCreate);
  if (!real) return CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND;
  CUresult rc = real(pool, props);
  if (rc != CUDA_SUCCESS || budget_mode() != BUDGET_ENFORCE) return rc;
  int dev = props->location.type == CU_MEM_LOCATION_TYPE_DEVICE ? props->location.id : -1;
  if (dev >= GPUMEM_MAX_GPUS) dev = -1;
  if (!pool_row(*pool, dev, 1)) { /* cannot account for it: fail closed */
    cuMemPoolDestroy_fn destroy = (cuMemPoolDestroy_fn)symbols_real(SYM_cuMemPoolDestroy);
    if (destroy) destroy(*pool);
    return CUDA_ERROR_OUT_OF_MEMORY;
  }
  return rc;
}

/* The pool's reservation is uncharged with it (memory still allocated from it is released by
 * the driver when freed, and is no longer visible to us). */
GPUMEM_EXPORT CUresult cuMemPoolDestroy(CUmemoryPool pool)
{
  cuMemPoolDestroy_fn real = (cuMemPoolDestroy_fn)symbols_real(SYM_cuMemPoolDestroy);
  if (!real) return CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND;
  struct pool_rec *r = NULL;
  pthread_mutex_lock(&pools_lock);
  for (int i = 0; i < MAX_POOLS && pool && !r; i++)
    if (pools[i].pool == pool) r = &pools[i];
  pthread_mutex_unlock(&pools_lock);
  if (!r) return real(pool);
  pthread_mutex_lock(&r->lock);
  CUresult rc = real(pool);
  if (rc == CUDA_SUCCESS) {
    if (r->dev >= 0) async_settle(&r->c, r->dev, 0, 0, 0);
    pthread_mutex_lock(&pools_lock);
    __atomic_store_n(&r->pool, NULL, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&pools_lock);
  }
  pthread_mutex_unlock(&r->lock);
  return rc;
}

GPUMEM_EXPORT CUresult cuMemPoolTrimTo(CUmemoryPool pool, size_t minBytesToKeep)
{
  cuMemPoolTrimTo_fn real = (cuMemPoolTrimTo_fn)symbols_real(SYM_cuMemPoolTrimTo);
  if (!real) return CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND;
  CUresult rc = real(pool, minBytesToKeep);
  if (rc == CUDA_SUCCESS && budget_mode() == BUDGET_ENFORCE) refresh_all();
  return rc;
}
