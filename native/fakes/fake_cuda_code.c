/* The fake driver's code and local memory: memory a real driver takes without an allocation
 * call. A module's "image" is a size in the size grammar (its code on the device); a function's
 * name is its local memory per thread in bytes. FAKE_CUDA_MODULE_LOADING=EAGER loads the code
 * at cuModuleLoadData, otherwise (CUDA's default, lazy) at the first launch of one of its
 * functions. Local memory is per thread x 1024 threads (4 SMs x 256), provisioned for the
 * largest of the stack limit (1 KiB at first) and every launched kernel's local size; it never
 * shrinks. cuCtxSetLimit raises the stack (at once), the malloc heap (8 MiB) and the printf
 * FIFO (1 MiB) and takes the growth. A launch or raise that does not fit the device fails with
 * CUDA_ERROR_OUT_OF_MEMORY. Per process, as everything in the fake. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../src/common/cuda_api.h"
#include "../src/format/size.h"
#include "fake_cuda_families.h"

#define THREADS 1024ULL

struct CUmod_st {
  CUdevice dev;
  uint64_t code;
  int loaded;
};

struct CUfunc_st {
  struct CUmod_st *mod;
  uint64_t local;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t stack_limit = 1024, per_thread = 1024;
static uint64_t heap = 8ULL << 20, fifo = 1ULL << 20;

static int eager(void)
{
  const char *m = getenv("FAKE_CUDA_MODULE_LOADING");
  return m && strcmp(m, "EAGER") == 0;
}

CUresult cuModuleLoadData(CUmodule *module, const void *image)
{
  CUdevice dev;
  CUresult rc = fake_current_device(&dev);
  if (rc) return rc;
  uint64_t code;
  if (!module || !image || gpumem_size_parse((const char *)image, &code, NULL, 0))
    return CUDA_ERROR_INVALID_VALUE;
  struct CUmod_st *m = calloc(1, sizeof *m);
  if (!m) return CUDA_ERROR_OUT_OF_MEMORY;
  *m = (struct CUmod_st){dev, code, 0};
  if (eager()) {
    if ((rc = fake_charge(dev, code)) != CUDA_SUCCESS) {
      free(m);
      return rc;
    }
    m->loaded = 1;
  }
  *module = m;
  return CUDA_SUCCESS;
}

CUresult cuModuleUnload(CUmodule m)
{
  if (!m) return CUDA_ERROR_INVALID_VALUE;
  if (m->loaded) fake_uncharge(m->dev, m->code);
  free(m);
  return CUDA_SUCCESS;
}

CUresult cuModuleGetFunction(CUfunction *f, CUmodule m, const char *name)
{
  if (!f || !m || !name) return CUDA_ERROR_INVALID_VALUE;
  struct CUfunc_st *fn = calloc(1, sizeof *fn);
  if (!fn) return CUDA_ERROR_OUT_OF_MEMORY;
  *fn = (struct CUfunc_st){m, strtoull(name, NULL, 10)};
  *f = fn;
  return CUDA_SUCCESS;
}

CUresult cuFuncGetAttribute(int *pi, CUfunction_attribute attrib, CUfunction f)
{
  if (!pi || !f) return CUDA_ERROR_INVALID_VALUE;
  if (attrib != CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES) return CUDA_ERROR_INVALID_VALUE;
  *pi = (int)f->local;
  return CUDA_SUCCESS;
}

/* Local memory grows to what is needed per thread; 0 or CUDA_ERROR_OUT_OF_MEMORY (unchanged). */
static CUresult provide(CUdevice dev, uint64_t need)
{
  if (need <= per_thread) return CUDA_SUCCESS;
  CUresult rc = fake_charge(dev, (need - per_thread) * THREADS);
  if (!rc) per_thread = need;
  return rc;
}

static CUresult launch(CUfunction f)
{
  if (!f) return CUDA_ERROR_INVALID_VALUE;
  CUdevice dev;
  CUresult rc = fake_current_device(&dev);
  if (rc) return rc;
  pthread_mutex_lock(&lock);
  if (!f->mod->loaded) { /* lazy loading: the code comes in with the first launch */
    rc = fake_charge(f->mod->dev, f->mod->code);
    if (!rc) f->mod->loaded = 1;
  }
  if (!rc) rc = provide(dev, f->local);
  pthread_mutex_unlock(&lock);
  return rc;
}

CUresult cuLaunchKernel(CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz,
                        unsigned int bx, unsigned int by, unsigned int bz, unsigned int shared,
                        CUstream s, void **params, void **extra)
{
  (void)gx, (void)gy, (void)gz, (void)bx, (void)by, (void)bz, (void)shared, (void)s;
  (void)params, (void)extra;
  return launch(f);
}

CUresult cuLaunchKernelEx(const CUlaunchConfig *config, CUfunction f, void **params, void **extra)
{
  (void)config, (void)params, (void)extra;
  return launch(f);
}

CUresult cuCtxGetLimit(size_t *value, CUlimit limit)
{
  if (!value) return CUDA_ERROR_INVALID_VALUE;
  pthread_mutex_lock(&lock);
  CUresult rc = CUDA_SUCCESS;
  switch (limit) {
  case CU_LIMIT_STACK_SIZE: *value = stack_limit; break;
  case CU_LIMIT_MALLOC_HEAP_SIZE: *value = heap; break;
  case CU_LIMIT_PRINTF_FIFO_SIZE: *value = fifo; break;
  default: rc = CUDA_ERROR_INVALID_VALUE;
  }
  pthread_mutex_unlock(&lock);
  return rc;
}

CUresult cuCtxSetLimit(CUlimit limit, size_t value)
{
  CUdevice dev;
  CUresult rc = fake_current_device(&dev);
  if (rc) return rc;
  pthread_mutex_lock(&lock);
  uint64_t *now = limit == CU_LIMIT_MALLOC_HEAP_SIZE ? &heap
                  : limit == CU_LIMIT_PRINTF_FIFO_SIZE ? &fifo : NULL;
  if (limit == CU_LIMIT_STACK_SIZE) {
    rc = provide(dev, value);
    if (!rc) stack_limit = value;
  } else if (!now) {
    rc = CUDA_ERROR_INVALID_VALUE;
  } else {
    if (value > *now) rc = fake_charge(dev, value - *now);
    if (!rc) *now = value; /* a lower value keeps what was taken, as the driver does */
  }
  pthread_mutex_unlock(&lock);
  return rc;
}
