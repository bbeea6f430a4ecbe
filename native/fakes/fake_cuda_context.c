/* The fake driver's contexts: a primary context per device (reference-counted) and created ones,
 * each taking FAKE_CUDA_CONTEXT_MEM (size grammar, default 0) of fake device memory while it
 * exists, as a real context takes a few hundred MiB that no allocation call shows. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../src/format/size.h"
#include "fake_cuda_context.h"
#include "fake_cuda_families.h" /* fake_charge, fake_uncharge: a context's memory */

#define MAX_DEVICES 64
#define STACK_DEPTH 16

/* Same leading member as fake_cuda.c's struct CUctx_st: cuCtxGetDevice reads ->dev. */
struct fake_ctx {
  CUdevice dev;
  int primary;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct fake_ctx primaries[MAX_DEVICES];
static int primary_refs[MAX_DEVICES];
static __thread CUcontext stack[STACK_DEPTH];
static __thread int depth;

static uint64_t context_mem(void)
{
  const char *s = getenv("FAKE_CUDA_CONTEXT_MEM");
  uint64_t v;
  return s && *s && gpumem_size_parse(s, &v, NULL, 0) == 0 ? v : 0;
}

static CUresult check(CUdevice dev)
{
  int n;
  CUresult rc = cuDeviceGetCount(&n);
  if (rc) return rc;
  return dev >= 0 && dev < n ? CUDA_SUCCESS : CUDA_ERROR_INVALID_DEVICE;
}

CUresult cuDevicePrimaryCtxRetain(CUcontext *pctx, CUdevice dev)
{
  CUresult rc = check(dev);
  if (rc) return rc;
  if (!pctx) return CUDA_ERROR_INVALID_VALUE;
  pthread_mutex_lock(&lock);
  if (primary_refs[dev] == 0) rc = fake_charge(dev, context_mem());
  if (!rc) {
    primary_refs[dev]++;
    primaries[dev].dev = dev;
    primaries[dev].primary = 1;
    *pctx = (CUcontext)&primaries[dev];
  }
  pthread_mutex_unlock(&lock);
  return rc;
}

CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev)
{
  CUresult rc = check(dev);
  if (rc) return rc;
  pthread_mutex_lock(&lock);
  if (primary_refs[dev] == 0) rc = CUDA_ERROR_INVALID_CONTEXT;
  else if (--primary_refs[dev] == 0) fake_uncharge(dev, context_mem());
  pthread_mutex_unlock(&lock);
  return rc;
}

CUresult cuDevicePrimaryCtxReset_v2(CUdevice dev)
{
  CUresult rc = check(dev);
  if (rc) return rc;
  pthread_mutex_lock(&lock);
  if (primary_refs[dev] > 0) fake_uncharge(dev, context_mem());
  primary_refs[dev] = 0;
  pthread_mutex_unlock(&lock);
  return rc;
}

CUresult cuDevicePrimaryCtxGetState(CUdevice dev, unsigned int *flags, int *active)
{
  CUresult rc = check(dev);
  if (rc) return rc;
  if (!flags || !active) return CUDA_ERROR_INVALID_VALUE;
  pthread_mutex_lock(&lock);
  *flags = 0;
  *active = primary_refs[dev] > 0;
  pthread_mutex_unlock(&lock);
  return CUDA_SUCCESS;
}

CUresult cuCtxPushCurrent_v2(CUcontext ctx)
{
  if (!ctx) return CUDA_ERROR_INVALID_VALUE;
  if (depth == STACK_DEPTH) return CUDA_ERROR_OUT_OF_MEMORY;
  CUcontext cur = NULL;
  CUresult rc = cuCtxGetCurrent(&cur);
  if (rc) return rc;
  stack[depth++] = cur;
  return cuCtxSetCurrent(ctx);
}

CUresult cuCtxPopCurrent_v2(CUcontext *pctx)
{
  CUcontext cur = NULL;
  CUresult rc = cuCtxGetCurrent(&cur);
  if (rc) return rc;
  if (!cur) return CUDA_ERROR_INVALID_CONTEXT;
  if (pctx) *pctx = cur;
  return cuCtxSetCurrent(depth > 0 ? stack[--depth] : NULL);
}

CUresult cuCtxCreate_v2(CUcontext *pctx, unsigned int flags, CUdevice dev)
{
  (void)flags;
  CUresult rc = check(dev);
  if (rc) return rc;
  if (!pctx) return CUDA_ERROR_INVALID_VALUE;
  struct fake_ctx *c = calloc(1, sizeof *c);
  if (!c) return CUDA_ERROR_OUT_OF_MEMORY;
  c->dev = dev;
  if ((rc = fake_charge(dev, context_mem())) != CUDA_SUCCESS) {
    free(c);
    return rc;
  }
  if ((rc = cuCtxPushCurrent_v2((CUcontext)c)) != CUDA_SUCCESS) {
    fake_uncharge(dev, context_mem());
    free(c);
    return rc;
  }
  *pctx = (CUcontext)c;
  return CUDA_SUCCESS;
}

CUresult cuCtxCreate_v3(CUcontext *pctx, CUexecAffinityParam *params, int n, unsigned int flags,
                        CUdevice dev)
{
  (void)params;
  (void)n;
  return cuCtxCreate_v2(pctx, flags, dev);
}

CUresult cuCtxCreate_v4(CUcontext *pctx, CUctxCreateParams *params, unsigned int flags,
                        CUdevice dev)
{
  (void)params;
  return cuCtxCreate_v2(pctx, flags, dev);
}

CUresult cuCtxDestroy_v2(CUcontext ctx)
{
  struct fake_ctx *c = (struct fake_ctx *)ctx;
  if (!c || c->primary) return CUDA_ERROR_INVALID_CONTEXT;
  CUcontext cur = NULL;
  cuCtxGetCurrent(&cur);
  if (cur == ctx) cuCtxPopCurrent_v2(NULL);
  fake_uncharge(c->dev, context_mem());
  free(c);
  return CUDA_SUCCESS;
}

CUresult cuDeviceGetUuid(CUuuid *uuid, CUdevice dev)
{
  CUresult rc = check(dev);
  if (rc) return rc;
  if (!uuid) return CUDA_ERROR_INVALID_VALUE;
  fake_gpu_uuid(fake_host_device(dev), (unsigned char *)uuid->bytes);
  return CUDA_SUCCESS;
}

CUresult cuDeviceGetUuid_v2(CUuuid *uuid, CUdevice dev) { return cuDeviceGetUuid(uuid, dev); }
