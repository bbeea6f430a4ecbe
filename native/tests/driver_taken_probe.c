/* Runs a script of calls that make the driver take memory without an allocation call, reaching
 * the driver as cudart does (dlopen + cuGetProcAddress_v2), and prints one JSON line: per step
 * its result, what the budget says is used (cuMemGetInfo: total - free), what the fake device
 * holds, and the most the fake device ever held.
 *
 *   driver-taken-probe alloc 8m  load 4m  func 2048  launch  stack 4096  heap 16m  fifo 2m
 *                      take 4m  managed 8m  sleep 300  free
 * alloc SIZE: cuMemAlloc_v2; managed SIZE: cuMemAllocManaged; free: the last allocation;
 * load SIZE: cuModuleLoadData of a module with SIZE of code; func LOCAL: a function of the
 * last module needing LOCAL bytes of local memory per thread; launch: cuLaunchKernel of the
 * last function; stack/heap/fifo BYTES: cuCtxSetLimit; take SIZE: the fake driver takes
 * memory outside any call (as a real one may); sleep MS. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../src/common/cuda_api.h"
#include "../src/format/size.h"

static cuGetProcAddress_v2_fn proc;
static void *h;

static void *get(const char *name, int version)
{
  void *p = NULL;
  CUdriverProcAddressQueryResult st;
  if (proc(name, &p, version, 0, &st) != CUDA_SUCCESS || !p) {
    printf("{\"error\":\"no %s\"}\n", name);
    exit(1);
  }
  return p;
}

static uint64_t size_of(const char *text)
{
  uint64_t v = 0;
  if (gpumem_size_parse(text, &v, NULL, 0)) exit(2);
  return v;
}

int main(int argc, char **argv)
{
  h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!h) return 1;
  proc = (cuGetProcAddress_v2_fn)dlsym(h, "cuGetProcAddress_v2");
  if (!proc) return 1;
  CUresult (*init)(unsigned) = get("cuInit", 2000);
  CUresult (*retain)(CUcontext *, CUdevice) = get("cuDevicePrimaryCtxRetain", 7000);
  CUresult (*set_current)(CUcontext) = get("cuCtxSetCurrent", 4000);
  CUresult (*info)(size_t *, size_t *) = get("cuMemGetInfo", 3020);
  CUresult (*alloc)(CUdeviceptr *, size_t) = get("cuMemAlloc", 3020);
  CUresult (*managed)(CUdeviceptr *, size_t, unsigned) = get("cuMemAllocManaged", 6000);
  CUresult (*mem_free)(CUdeviceptr) = get("cuMemFree", 3020);
  CUresult (*load)(CUmodule *, const void *) = get("cuModuleLoadData", 2000);
  CUresult (*function)(CUfunction *, CUmodule, const char *) = get("cuModuleGetFunction", 2000);
  CUresult (*launch)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                     unsigned, CUstream, void **, void **) = get("cuLaunchKernel", 4000);
  CUresult (*set_limit)(CUlimit, size_t) = get("cuCtxSetLimit", 3010);
  int (*device)(int, uint64_t *, uint64_t *) = dlsym(h, "fake_cuda_memory");
  uint64_t (*peak)(int) = dlsym(h, "fake_cuda_peak");
  CUresult (*take)(int, uint64_t) = dlsym(h, "fake_cuda_take");
  CUcontext ctx;
  if (!device || !peak || !take || init(0) || retain(&ctx, 0) || set_current(ctx)) return 1;

  CUmodule mod = NULL;
  CUfunction fn = NULL;
  CUdeviceptr last = 0;
  printf("{\"steps\":[");
  for (int i = 1; i < argc; i++) {
    const char *op = argv[i], *arg = i + 1 < argc ? argv[i + 1] : "0";
    CUresult rc = CUDA_SUCCESS;
    int takes_arg = 1;
    if (!strcmp(op, "alloc")) rc = alloc(&last, size_of(arg));
    else if (!strcmp(op, "managed")) rc = managed(&last, size_of(arg), 1);
    else if (!strcmp(op, "free")) rc = mem_free(last), takes_arg = 0;
    else if (!strcmp(op, "load")) rc = load(&mod, arg);
    else if (!strcmp(op, "func")) rc = function(&fn, mod, arg);
    else if (!strcmp(op, "launch")) rc = launch(fn, 1, 1, 1, 1, 1, 1, 0, NULL, NULL, NULL), takes_arg = 0;
    else if (!strcmp(op, "stack")) rc = set_limit(CU_LIMIT_STACK_SIZE, size_of(arg));
    else if (!strcmp(op, "heap")) rc = set_limit(CU_LIMIT_MALLOC_HEAP_SIZE, size_of(arg));
    else if (!strcmp(op, "fifo")) rc = set_limit(CU_LIMIT_PRINTF_FIFO_SIZE, size_of(arg));
    else if (!strcmp(op, "take")) rc = take(0, size_of(arg));
    else if (!strcmp(op, "sleep")) usleep((useconds_t)atoi(arg) * 1000);
    else return 2;
    size_t free_b = 0, total = 0;
    info(&free_b, &total);
    uint64_t dtotal, dused;
    device(0, &dtotal, &dused);
    printf("%s{\"op\":\"%s\",\"rc\":%d,\"used\":%llu,\"free\":%llu,\"device_used\":%llu}",
           i > 1 ? "," : "", op, rc, (unsigned long long)(total - free_b),
           (unsigned long long)free_b, (unsigned long long)dused);
    if (takes_arg) i++;
  }
  size_t free_b = 0, total = 0;
  info(&free_b, &total);
  printf("],\"total\":%llu,\"device_peak\":%llu}\n", (unsigned long long)total,
         (unsigned long long)peak(0));
  return 0;
}
