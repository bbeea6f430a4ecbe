/* Allocates fixed-size blocks until the driver refuses, then prints one JSON line; built twice:
 * reaching the driver the way cudart 13 does (dlopen + cuGetProcAddress_v2 by base name), and
 * with -DLINKED as a program linked with -lcuda.
 *
 * usage: alloc-until-oom [--block 4m] [--max SIZE] [--hold SECONDS] [--free] [--device I] */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../src/common/cuda.h"
#include "../src/format/size.h"

#ifndef LINKED
#include <dlfcn.h>
#endif

typedef CUresult (*cuInit_fn)(unsigned int);
typedef CUresult (*cuDeviceGet_fn)(CUdevice *, int);
typedef CUresult (*cuDevicePrimaryCtxRetain_fn)(CUcontext *, CUdevice);
typedef CUresult (*cuCtxSetCurrent_fn)(CUcontext);
typedef CUresult (*cuGetErrorName_fn)(CUresult, const char **);

static struct {
  cuInit_fn init;
  cuDeviceGet_fn device_get;
  cuDevicePrimaryCtxRetain_fn retain;
  cuCtxSetCurrent_fn set_current;
  cuMemAlloc_v2_fn alloc;
  cuMemFree_v2_fn free;
  cuMemGetInfo_v2_fn get_info;
  cuDeviceTotalMem_v2_fn total_mem;
  cuGetErrorName_fn error_name;
} cu;

static void die(const char *what)
{
  printf("{\"error\":\"%s\"}\n", what);
  fflush(stdout);
  exit(1);
}

#ifdef LINKED
CUresult cuInit(unsigned int);
CUresult cuDeviceGet(CUdevice *, int);
CUresult cuDevicePrimaryCtxRetain(CUcontext *, CUdevice);
CUresult cuCtxSetCurrent(CUcontext);
CUresult cuMemAlloc_v2(CUdeviceptr *, size_t);
CUresult cuMemFree_v2(CUdeviceptr);
CUresult cuMemGetInfo_v2(size_t *, size_t *);
CUresult cuDeviceTotalMem_v2(size_t *, CUdevice);
CUresult cuGetErrorName(CUresult, const char **);

static void load_driver(void)
{
  cu.init = cuInit;
  cu.device_get = cuDeviceGet;
  cu.retain = cuDevicePrimaryCtxRetain;
  cu.set_current = cuCtxSetCurrent;
  cu.alloc = cuMemAlloc_v2;
  cu.free = cuMemFree_v2;
  cu.get_info = cuMemGetInfo_v2;
  cu.total_mem = cuDeviceTotalMem_v2;
  cu.error_name = cuGetErrorName;
}
#else
static cuGetProcAddress_v2_fn get_proc;

static void *entry(const char *base)
{
  void *p = NULL;
  CUdriverProcAddressQueryResult status = -1;
  if (get_proc(base, &p, 13000, CU_GET_PROC_ADDRESS_DEFAULT, &status) != CUDA_SUCCESS || !p ||
      status != CU_GET_PROC_ADDRESS_SUCCESS)
    die("cuGetProcAddress failed");
  return p;
}

/* As libcudart 13 does: dlopen, one dlsym, then everything by base name at a version. */
static void load_driver(void)
{
  void *h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!h) die("cannot dlopen libcuda.so.1");
  get_proc = (cuGetProcAddress_v2_fn)dlsym(h, "cuGetProcAddress_v2");
  if (!get_proc) die("no cuGetProcAddress_v2");
  get_proc = (cuGetProcAddress_v2_fn)entry("cuGetProcAddress");
  cu.init = (cuInit_fn)entry("cuInit");
  cu.device_get = (cuDeviceGet_fn)entry("cuDeviceGet");
  cu.retain = (cuDevicePrimaryCtxRetain_fn)entry("cuDevicePrimaryCtxRetain");
  cu.set_current = (cuCtxSetCurrent_fn)entry("cuCtxSetCurrent");
  cu.alloc = (cuMemAlloc_v2_fn)entry("cuMemAlloc");
  cu.free = (cuMemFree_v2_fn)entry("cuMemFree");
  cu.get_info = (cuMemGetInfo_v2_fn)entry("cuMemGetInfo");
  cu.total_mem = (cuDeviceTotalMem_v2_fn)entry("cuDeviceTotalMem");
  cu.error_name = (cuGetErrorName_fn)entry("cuGetErrorName");
}
#endif

static volatile sig_atomic_t stop;
static void on_term(int sig) { (void)sig; stop = 1; }

static uint64_t size_arg(const char *text)
{
  uint64_t v;
  char err[256];
  if (gpumem_size_parse(text, &v, err, sizeof err)) die("bad size argument");
  return v;
}

int main(int argc, char **argv)
{
  uint64_t block = 4ULL << 20, max = 0;
  double hold = 0;
  int do_free = 0, ordinal = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--free")) do_free = 1;
    else if (!v) die("missing argument value");
    else if (!strcmp(a, "--block")) block = size_arg(argv[++i]);
    else if (!strcmp(a, "--max")) max = size_arg(argv[++i]);
    else if (!strcmp(a, "--hold")) hold = atof(argv[++i]);
    else if (!strcmp(a, "--device")) ordinal = atoi(argv[++i]);
    else die("unknown argument");
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_term;
  sigaction(SIGTERM, &sa, NULL);

  load_driver();
  CUdevice dev;
  CUcontext ctx;
  if (cu.init(0) != CUDA_SUCCESS) die("cuInit failed");
  if (cu.device_get(&dev, ordinal) != CUDA_SUCCESS) die("cuDeviceGet failed");
  if (cu.retain(&ctx, dev) != CUDA_SUCCESS || cu.set_current(ctx) != CUDA_SUCCESS)
    die("cannot make a context current");

  size_t free_before = 0, free_after = 0, total = 0, device_total = 0;
  cu.get_info(&free_before, &total);
  cu.total_mem(&device_total, dev);

  size_t cap = 1024, n = 0;
  CUdeviceptr *blocks = malloc(cap * sizeof *blocks);
  CUresult rc = CUDA_SUCCESS;
  uint64_t allocated = 0;
  while (!max || allocated + block <= max) {
    if (n == cap && !(blocks = realloc(blocks, (cap *= 2) * sizeof *blocks))) die("no memory");
    rc = cu.alloc(&blocks[n], block);
    if (rc != CUDA_SUCCESS) break;
    n++;
    allocated += block;
  }
  cu.get_info(&free_after, &total);

  const char *name = NULL;
  if (rc != CUDA_SUCCESS && (cu.error_name(rc, &name) != CUDA_SUCCESS || !name))
    name = "unknown error";
  printf("{\"allocated\":%llu,\"blocks\":%zu,\"error\":%s%s%s,\"total\":%zu,\"free_before\":%zu,"
         "\"free_after\":%zu,\"device_total\":%zu}\n",
         (unsigned long long)allocated, n, name ? "\"" : "", name ? name : "null",
         name ? "\"" : "", total, free_before, free_after, device_total);
  fflush(stdout);

  if (hold > 0) {
    struct timespec start, now, tick = {0, 50 * 1000 * 1000};
    clock_gettime(CLOCK_MONOTONIC, &start);
    do {
      nanosleep(&tick, NULL);
      clock_gettime(CLOCK_MONOTONIC, &now);
    } while (!stop && (double)(now.tv_sec - start.tv_sec) +
                              (double)(now.tv_nsec - start.tv_nsec) / 1e9 < hold);
  }
  if (do_free)
    for (size_t i = 0; i < n; i++) cu.free(blocks[i]);
  return 0;
}
