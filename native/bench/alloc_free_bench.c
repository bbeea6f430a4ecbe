/* Times cuMemAlloc_v2 + cuMemFree_v2 pairs reached the way cudart 13 reaches them
 * (dlopen + cuGetProcAddress_v2); run natively and under LD_PRELOAD to see what the interposer adds.
 *
 * usage: alloc-free-bench SIZE_BYTES PAIRS     prints {"size":..,"pairs":..,"ns_per_pair":..}
 *        alloc-free-bench launch LAUNCHES       cuLaunchKernel instead (fake driver only: its module
 *                                               image is a size), one launch per "pair" */
#include <string.h>
#include <dlfcn.h>
#include <pthread.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "../src/common/cuda.h"

typedef CUresult (*get_proc_fn)(const char *, void **, int, cuuint64_t, int *);
typedef CUresult (*init_fn)(unsigned int);
typedef CUresult (*device_get_fn)(CUdevice *, int);
typedef CUresult (*retain_fn)(CUcontext *, CUdevice);
typedef CUresult (*set_current_fn)(CUcontext);

static void *proc(get_proc_fn get, const char *name)
{
  void *p = NULL;
  int status = 0;
  if (get(name, &p, 12000, 0, &status) != CUDA_SUCCESS || !p) {
    fprintf(stderr, "alloc-free-bench: no %s\n", name);
    exit(1);
  }
  return p;
}

static double now_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* Real CUDA programs are multi-threaded (the driver itself starts threads; so does gpumem's
 * reconcile thread), and glibc takes slower, atomic paths once a second thread exists: an idle
 * thread in both runs keeps that out of the comparison. */
static void *idle(void *arg)
{
  (void)arg;
  for (;;) pause();
  return NULL;
}

int main(int argc, char **argv)
{
  pthread_t t;
  pthread_create(&t, NULL, idle, NULL);
  size_t size = argc > 1 ? strtoull(argv[1], NULL, 10) : 1 << 20; /* "launch": 0, unused */
  long pairs = argc > 2 ? atol(argv[2]) : 10000;
  void *h = dlopen("libcuda.so.1", RTLD_NOW);
  if (!h) {
    fprintf(stderr, "alloc-free-bench: %s\n", dlerror());
    return 1;
  }
  get_proc_fn get = (get_proc_fn)dlsym(h, "cuGetProcAddress_v2");
  if (!get) return 1;
  init_fn init = (init_fn)proc(get, "cuInit");
  device_get_fn device_get = (device_get_fn)proc(get, "cuDeviceGet");
  retain_fn retain = (retain_fn)proc(get, "cuDevicePrimaryCtxRetain");
  set_current_fn set_current = (set_current_fn)proc(get, "cuCtxSetCurrent");
  cuMemAlloc_v2_fn alloc = (cuMemAlloc_v2_fn)proc(get, "cuMemAlloc");
  cuMemFree_v2_fn release = (cuMemFree_v2_fn)proc(get, "cuMemFree");
  CUdevice dev;
  CUcontext ctx;
  if (init(0) || device_get(&dev, 0) || retain(&ctx, dev) || set_current(ctx)) return 1;
  if (argc > 1 && strcmp(argv[1], "launch") == 0) {
    typedef CUresult (*load_fn)(CUmodule *, const void *);
    typedef CUresult (*func_fn)(CUfunction *, CUmodule, const char *);
    typedef CUresult (*launch_fn)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned,
                                  unsigned, unsigned, CUstream, void **, void **);
    load_fn load = (load_fn)proc(get, "cuModuleLoadData");
    func_fn func = (func_fn)proc(get, "cuModuleGetFunction");
    launch_fn launch = (launch_fn)proc(get, "cuLaunchKernel");
    CUmodule mod;
    CUfunction fn;
    if (load(&mod, "1m") || func(&fn, mod, "0")) return 1;
    for (int i = 0; i < 100; i++)
      if (launch(fn, 1, 1, 1, 1, 1, 1, 0, NULL, NULL, NULL)) return 1;
    double t0 = now_ns();
    for (long i = 0; i < pairs; i++)
      if (launch(fn, 1, 1, 1, 1, 1, 1, 0, NULL, NULL, NULL)) return 1;
    printf("{\"size\":0,\"pairs\":%ld,\"ns_per_pair\":%.1f}\n", pairs, (now_ns() - t0) / pairs);
    return 0;
  }
  CUdeviceptr p;
  for (int i = 0; i < 100; i++) { /* warm the driver's and the interposer's paths */
    if (alloc(&p, size) || release(p)) return 1;
  }
  double t0 = now_ns();
  for (long i = 0; i < pairs; i++) {
    if (alloc(&p, size) != CUDA_SUCCESS || release(p) != CUDA_SUCCESS) {
      fprintf(stderr, "alloc-free-bench: allocation failed at pair %ld\n", i);
      return 1;
    }
  }
  double per = (now_ns() - t0) / pairs;
  printf("{\"size\":%zu,\"pairs\":%ld,\"ns_per_pair\":%.1f}\n", size, pairs, per);
  return 0;
}
