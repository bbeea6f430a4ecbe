// Fills the GPU with cudaMalloc blocks until refused, as a CUDA C program would; prints one JSON line, then holds.
#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv) {
  size_t block = (size_t)(argc > 1 ? atof(argv[1]) : 256) << 20;  // MiB
  int hold = argc > 2 ? atoi(argv[2]) : 4;
  size_t free0 = 0, total = 0;
  cudaError_t e = cudaMemGetInfo(&free0, &total);
  if (e != cudaSuccess) { printf("{\"error\":\"%s\"}\n", cudaGetErrorName(e)); return 1; }
  size_t allocated = 0;
  void *p;
  while ((e = cudaMalloc(&p, block)) == cudaSuccess) allocated += block;
  size_t free1 = 0;
  cudaMemGetInfo(&free1, &total);
  printf("{\"workload\":\"cuda-c cudaMalloc\",\"allocated\":%zu,\"error\":\"%s\",\"total\":%zu,\"free_before\":%zu,\"free_after\":%zu}\n",
         allocated, cudaGetErrorName(e), total, free0, free1);
  fflush(stdout);
  // The error must be clean: the runtime still works after it.
  cudaGetLastError();
  sleep(hold);
  return 0;
}
