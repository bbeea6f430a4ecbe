/* GPUMEM_LIMIT* for a process without a host config: parsed by the same C grammar the host uses
 * (src/format/limit.c), with percents resolved against the real size of each device. */
#include "env_limits.h"

#include <stdio.h>
#include <unistd.h>

#include "../common/cuda_api.h"
#include "../format/limit.h"
#include "../format/quote.h"
#include "say.h"
#include "driver_fns.h"
#include "symbols.h"

extern char **environ;

/* Written once under budget.c's pthread_once, read-only afterwards. */
static struct gpumem_env_limits env;
static unsigned char reported[GPUMEM_MAX_GPUS];

int env_limits_have_percent(void)
{
  if (env.all.percent_num) return 1;
  for (int d = 0; d < GPUMEM_MAX_GPUS; d++)
    if (env.per_gpu[d].percent_num) return 1;
  return 0;
}

int env_limits_percent_bytes(int dev, uint64_t device_total, uint64_t *bytes)
{
  if (dev < 0 || dev >= GPUMEM_MAX_GPUS || !bytes) return 0;
  const struct gpumem_limit *l = &env.per_gpu[dev];
  char what[64];
  snprintf(what, sizeof what, "environment variable GPUMEM_LIMIT_%d", dev);
  if (!l->percent_num) {
    if (l->bytes || !env.all.percent_num) return 0; /* a size of its own, or no percent at all */
    l = &env.all;
    snprintf(what, sizeof what, "environment variable GPUMEM_LIMIT");
  }
  char err[GPUMEM_MESSAGE_MAX];
  if (gpumem_limit_percent_bytes(what, l, dev, device_total, bytes, err, sizeof err) == 0) return 1;
  if (!__atomic_exchange_n(&reported[dev], 1, __ATOMIC_RELAXED)) gpumem_say(err);
  return -1;
}

/* Every device the driver lists, when it is initialized; otherwise (cuDeviceGetCount says
 * CUDA_ERROR_NOT_INITIALIZED) nothing here, and the budget code resolves at first use. */
static int resolve_now(struct gpumem_config *c)
{
  cuDeviceGetCount_fn count_of = (cuDeviceGetCount_fn)driver_fn(DRV_cuDeviceGetCount);
  cuDeviceGet_fn device_get = (cuDeviceGet_fn)driver_fn(DRV_cuDeviceGet);
  cuDeviceTotalMem_v2_fn total_of = (cuDeviceTotalMem_v2_fn)symbols_real(SYM_cuDeviceTotalMem_v2);
  int count = 0;
  if (!count_of || !device_get || !total_of || count_of(&count) != CUDA_SUCCESS) return 0;
  for (int i = 0; i < count && i < GPUMEM_MAX_GPUS; i++) {
    CUdevice dev;
    size_t total = 0;
    uint64_t bytes;
    if (device_get(&dev, i) != CUDA_SUCCESS || dev < 0 || dev >= GPUMEM_MAX_GPUS ||
        total_of(&total, dev) != CUDA_SUCCESS)
      continue;
    int rc = env_limits_percent_bytes(dev, total, &bytes);
    if (rc < 0) return -1;
    if (rc > 0) c->limit_per_gpu[dev] = bytes;
  }
  return 0;
}

int env_limits_load(struct gpumem_config *c)
{
  char err[GPUMEM_MESSAGE_MAX];
  int found = gpumem_limit_env((const char *const *)environ, -1, &env, err, sizeof err);
  if (found < 0) {
    gpumem_say(err);
    return -1;
  }
  if (!found) return 0;
  c->limit_all = env.all.bytes;
  for (int d = 0; d < GPUMEM_MAX_GPUS; d++) c->limit_per_gpu[d] = env.per_gpu[d].bytes;
  if (env_limits_have_percent() && resolve_now(c) < 0) return -1;
  return 1;
}
