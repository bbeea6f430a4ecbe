/* Per-thread local memory as the driver provisions it: the largest of the stack limit and the
 * local size of every kernel launched so far, for SMs x threads per SM threads (264 MiB per KiB
 * on an H200). Known before the driver grows it, so the growth can be refused with an
 * out-of-memory error instead of being found past the budget afterwards. */
#include "local_memory.h"

#include <pthread.h>

#include "../common/cuda_api.h"
#include "../format/config.h"
#include "driver_fns.h"
#include "fork_reset.h"
#include "reconcile.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t per_thread_now[GPUMEM_MAX_GPUS]; /* 0 = not read yet */
static uint64_t threads[GPUMEM_MAX_GPUS];

static uint64_t device_threads(int dev)
{
  cuDeviceGetAttribute_fn get = (cuDeviceGetAttribute_fn)driver_fn(DRV_cuDeviceGetAttribute);
  int sms = 0, per_sm = 0;
  if (!get || get(&sms, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, dev) != CUDA_SUCCESS ||
      get(&per_sm, CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR, dev) != CUDA_SUCCESS ||
      sms <= 0 || per_sm <= 0)
    return 0;
  return (uint64_t)sms * (uint64_t)per_sm;
}

static void after_fork_child(void)
{
  pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
  lock = fresh;
  for (int d = 0; d < GPUMEM_MAX_GPUS; d++) per_thread_now[d] = 0; /* no contexts there */
}

/* What the context already holds per thread: its stack limit (1 KiB unless raised). */
static void learn(int dev)
{
  static int registered;
  if (!registered) {
    registered = 1;
    fork_reset_register(after_fork_child);
  }
  if (per_thread_now[dev]) return;
  threads[dev] = device_threads(dev);
  cuCtxGetLimit_fn get = (cuCtxGetLimit_fn)driver_fn(DRV_cuCtxGetLimit);
  size_t v = 0;
  if (!get || get(&v, CU_LIMIT_STACK_SIZE) != CUDA_SUCCESS || v == 0) v = 1024;
  per_thread_now[dev] = v;
}

int local_memory_grow(int dev, uint64_t per_thread, uint64_t *grown)
{
  *grown = 0;
  if (dev < 0 || dev >= GPUMEM_MAX_GPUS) return 0;
  pthread_mutex_lock(&lock);
  learn(dev);
  int rc = 0;
  if (per_thread > per_thread_now[dev] && threads[dev]) {
    uint64_t bytes;
    if (__builtin_mul_overflow(per_thread - per_thread_now[dev], threads[dev], &bytes) ||
        reconcile_provision(dev, bytes))
      rc = -1;
    else {
      *grown = bytes;
      per_thread_now[dev] = per_thread;
    }
  }
  pthread_mutex_unlock(&lock);
  return rc;
}

void local_memory_undo(int dev, uint64_t per_thread, uint64_t grown)
{
  if (!grown || dev < 0 || dev >= GPUMEM_MAX_GPUS) return;
  pthread_mutex_lock(&lock);
  reconcile_unprovision(dev, grown);
  if (per_thread_now[dev] == per_thread && threads[dev])
    per_thread_now[dev] = per_thread - grown / threads[dev];
  pthread_mutex_unlock(&lock);
}
