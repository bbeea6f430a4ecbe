/* Fills until refused and prints one JSON line, then again at every SIGUSR1 (the budget may have
 * changed meanwhile), holding everything until SIGTERM: a running process for the live-budget
 * tests. usage: fill-on-signal [--block 1m] */
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../src/common/cuda.h"
#include "../src/format/size.h"

static volatile sig_atomic_t stop, again;
static void on_term(int sig) { (void)sig; stop = 1; }
static void on_usr1(int sig) { (void)sig; again = 1; }

int main(int argc, char **argv)
{
  uint64_t block = 1ULL << 20, total_held = 0;
  if (argc == 3 && !strcmp(argv[1], "--block")) gpumem_size_parse(argv[2], &block, NULL, 0);
  signal(SIGTERM, on_term);
  signal(SIGUSR1, on_usr1);
  void *h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  cuGetProcAddress_v2_fn gp = h ? (cuGetProcAddress_v2_fn)dlsym(h, "cuGetProcAddress_v2") : NULL;
  void *f[5] = {0};
  const char *names[5] = {"cuInit", "cuDevicePrimaryCtxRetain", "cuCtxSetCurrent", "cuMemAlloc",
                          "cuMemGetInfo"};
  for (int i = 0; gp && i < 5; i++) gp(names[i], &f[i], 13000, 0, NULL);
  if (!f[0] || !f[1] || !f[2] || !f[3] || !f[4]) {
    printf("{\"error\":\"no driver\"}\n");
    return 1;
  }
  CUcontext ctx;
  ((CUresult(*)(unsigned))f[0])(0);
  if (((cuDevicePrimaryCtxRetain_fn)f[1])(&ctx, 0) != CUDA_SUCCESS) {
    printf("{\"error\":\"no context\"}\n");
    return 1;
  }
  ((CUresult(*)(CUcontext))f[2])(ctx);
  for (int round = 0; !stop; round++) {
    uint64_t got = 0;
    CUdeviceptr p;
    while (((cuMemAlloc_v2_fn)f[3])(&p, block) == CUDA_SUCCESS) got += block;
    total_held += got;
    size_t fr = 0, tot = 0;
    ((cuMemGetInfo_v2_fn)f[4])(&fr, &tot);
    printf("{\"round\":%d,\"allocated\":%llu,\"held\":%llu,\"free\":%zu,\"total\":%zu}\n", round,
           (unsigned long long)got, (unsigned long long)total_held, fr, tot);
    fflush(stdout);
    while (!stop && !again) usleep(20000);
    again = 0;
  }
  return 0;
}
