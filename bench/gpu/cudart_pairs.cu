// Times cudaMalloc + cudaFree pairs (libcudart's path to the driver); built by the bench with nvcc.
// usage: cudart-alloc-free-bench SIZE_BYTES PAIRS     prints {"size":..,"pairs":..,"ns_per_pair":..}
#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv) {
  size_t size = argc > 1 ? strtoull(argv[1], NULL, 10) : 1 << 20;
  long pairs = argc > 2 ? atol(argv[2]) : 2000;
  void *p;
  for (int i = 0; i < 100; i++)  // context creation and warm paths out of the timing
    if (cudaMalloc(&p, size) != cudaSuccess || cudaFree(p) != cudaSuccess) return 1;
  double t0 = now_ns();
  for (long i = 0; i < pairs; i++)
    if (cudaMalloc(&p, size) != cudaSuccess || cudaFree(p) != cudaSuccess) return 1;
  printf("{\"size\":%zu,\"pairs\":%ld,\"ns_per_pair\":%.1f}\n", size, pairs, (now_ns() - t0) / pairs);
  return 0;
}
