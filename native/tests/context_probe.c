/* Walks a process through the context calls the way cudart 13 reaches them (cuGetProcAddress_v2
 * at 13000, so cuCtxCreate is cuCtxCreate_v4) and prints what cuMemGetInfo said after each step
 * as one JSON line; with --hold it then waits (SIGTERM ends it) so a test can read the region.
 *
 * usage: context-probe [--alloc SIZE] [--create] [--hold SECONDS] */
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../src/common/cuda.h"
#include "../src/format/size.h"

static cuGetProcAddress_v2_fn get_proc;
static volatile sig_atomic_t stop;
static void on_term(int sig) { (void)sig; stop = 1; }

static void *entry(const char *base)
{
  void *p = NULL;
  if (get_proc(base, &p, 13000, CU_GET_PROC_ADDRESS_DEFAULT, NULL) != CUDA_SUCCESS) return NULL;
  return p;
}

int main(int argc, char **argv)
{
  uint64_t alloc = 0;
  int create = 0;
  double hold = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--create")) create = 1;
    else if (!strcmp(argv[i], "--alloc") && i + 1 < argc) gpumem_size_parse(argv[++i], &alloc, NULL, 0);
    else if (!strcmp(argv[i], "--hold") && i + 1 < argc) hold = atof(argv[++i]);
  }
  signal(SIGTERM, on_term);
  void *h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!h || !(get_proc = (cuGetProcAddress_v2_fn)dlsym(h, "cuGetProcAddress_v2"))) {
    printf("{\"error\":\"no driver\"}\n");
    return 1;
  }
  CUresult (*init)(unsigned) = (CUresult(*)(unsigned))entry("cuInit");
  cuDevicePrimaryCtxRetain_fn retain = (cuDevicePrimaryCtxRetain_fn)entry("cuDevicePrimaryCtxRetain");
  cuDevicePrimaryCtxRelease_v2_fn release = (cuDevicePrimaryCtxRelease_v2_fn)entry("cuDevicePrimaryCtxRelease");
  CUresult (*set_current)(CUcontext) = (CUresult(*)(CUcontext))entry("cuCtxSetCurrent");
  cuCtxCreate_v4_fn ctx_create = (cuCtxCreate_v4_fn)entry("cuCtxCreate");
  cuCtxDestroy_v2_fn ctx_destroy = (cuCtxDestroy_v2_fn)entry("cuCtxDestroy");
  cuMemGetInfo_v2_fn info = (cuMemGetInfo_v2_fn)entry("cuMemGetInfo");
  cuMemAlloc_v2_fn mem_alloc = (cuMemAlloc_v2_fn)entry("cuMemAlloc");
  init(0);

  size_t free_b = 0, total = 0;
  CUcontext primary = NULL, again = NULL, created = NULL;
  printf("{");
  CUresult rc = retain(&primary, 0);
  printf("\"retain\":%d", rc);
  if (rc != CUDA_SUCCESS) {
    printf("}\n");
    return 0;
  }
  set_current(primary);
  info(&free_b, &total);
  printf(",\"total\":%zu,\"free_after_retain\":%zu", total, free_b);
  rc = retain(&again, 0);
  info(&free_b, &total);
  printf(",\"retain_again\":%d,\"free_after_second_retain\":%zu", rc, free_b);
  if (alloc) {
    CUdeviceptr p;
    rc = mem_alloc(&p, alloc);
    info(&free_b, &total);
    printf(",\"alloc\":%d,\"free_after_alloc\":%zu", rc, free_b);
  }
  if (create) {
    rc = ctx_create(&created, NULL, 0, 0);
    info(&free_b, &total);
    printf(",\"create\":%d,\"free_after_create\":%zu", rc, free_b);
    if (rc == CUDA_SUCCESS) {
      rc = ctx_destroy(created);
      set_current(primary);
      info(&free_b, &total);
      printf(",\"destroy\":%d,\"free_after_destroy\":%zu", rc, free_b);
    }
  }
  rc = release(0);
  info(&free_b, &total);
  printf(",\"release\":%d,\"free_after_first_release\":%zu", rc, free_b);
  rc = release(0);
  printf(",\"release_again\":%d}\n", rc);
  fflush(stdout);
  for (double t = 0; t < hold && !stop; t += 0.05) usleep(50000);
  return 0;
}
