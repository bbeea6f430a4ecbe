// Local memory: a kernel whose 4 KiB per-thread array spills to local memory, so the driver reserves
// local memory for every thread the GPU can hold (SMs x max threads x 4 KiB) at its first launch.
// Loop: cudaMalloc a block, touch it, launch the kernel on a full grid; stop at the first error.
// usage: spill [CAP_BLOCKS [HOLD_S [BLOCK_MIB]]]     prints one JSON line, holds at the peak
#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

__global__ void spill(float *out, int salt) {
  volatile float buf[1024];  // volatile and indexed at run time: it cannot live in registers
  for (int i = 0; i < 1024; i++) buf[i] = (float)(i ^ salt);
  out[blockIdx.x * blockDim.x + threadIdx.x] = buf[(threadIdx.x * 7 + salt) & 1023];
}

int main(int argc, char **argv) {
  int cap = argc > 1 ? atoi(argv[1]) : 64;
  int hold = argc > 2 ? atoi(argv[2]) : 2;
  size_t block = (size_t)(argc > 3 ? atoi(argv[3]) : 256) << 20;
  size_t free0 = 0, total = 0;
  cudaError_t e = cudaMemGetInfo(&free0, &total);
  cudaFuncAttributes fa = {};
  if (e == cudaSuccess) e = cudaFuncGetAttributes(&fa, spill);
  int sms = 0;
  if (e == cudaSuccess) e = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0);
  int grid = sms * 16, threads = 128;
  float *out = NULL;
  if (e == cudaSuccess) e = cudaMalloc(&out, (size_t)grid * threads * sizeof(float));
  if (e != cudaSuccess) {
    printf("{\"workload\":\"spill\",\"largest_ok\":null,\"refused_at\":\"setup\",\"error\":\"setup: %s\",\"pid\":%d}\n",
           cudaGetErrorName(e), getpid());
    return e == cudaErrorMemoryAllocation ? 0 : 1;
  }
  int ok = 0, held = 0;
  const char *failed = NULL;
  while (held < cap) {
    void *p;
    if ((e = cudaMalloc(&p, block)) != cudaSuccess) { failed = "cudaMalloc"; break; }
    held++;
    if ((e = cudaMemset(p, 1, block)) != cudaSuccess) { failed = "cudaMemset"; break; }
    spill<<<grid, threads>>>(out, held);
    if ((e = cudaGetLastError()) == cudaSuccess) e = cudaDeviceSynchronize();
    if (e != cudaSuccess) { failed = "launch"; break; }
    ok++;
  }
  cudaGetLastError();
  sleep(hold);
  char err[128] = "null", refused[32] = "null";
  if (failed) {
    snprintf(err, sizeof err, "\"%s: %s\"", failed, cudaGetErrorName(e));
    snprintf(refused, sizeof refused, "%d", ok + 1);
  }
  printf("{\"workload\":\"spill\",\"largest_ok\":%d,\"refused_at\":%s,\"error\":%s,\"capped\":%s,\"blocks_held\":%d,"
         "\"block_mib\":%zu,\"local_size_bytes\":%zu,\"grid\":%d,\"threads\":%d,\"total\":%zu,\"free_at_start\":%zu,"
         "\"pid\":%d}\n",
         ok, refused, err, failed ? "false" : "true", held, block >> 20, (size_t)fa.localSizeBytes, grid, threads,
         total, free0, getpid());
  return !failed || e == cudaErrorMemoryAllocation ? 0 : 1;  // any error but out-of-memory is a failure
}
