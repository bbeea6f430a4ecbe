// The stack limit: cudaDeviceSetLimit(cudaLimitStackSize) makes the driver reserve stack for every
// thread the GPU can hold (SMs x max threads x size). Doubles it from START_KIB to MAX_KIB (each step
// followed by a launch, so the reservation is real), then fills with 256 MiB blocks until refused.
// usage: stack_limit [START_KIB [MAX_KIB [CAP_MIB [HOLD_S]]]]     prints one JSON line, holds at the peak
#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

__global__ void touch(int *flag) {
  if (blockIdx.x == 0 && threadIdx.x == 0) *flag = 1;
}

static cudaError_t launch(int *flag, int grid) {
  touch<<<grid, 128>>>(flag);
  cudaError_t e = cudaGetLastError();
  return e == cudaSuccess ? cudaDeviceSynchronize() : e;
}

int main(int argc, char **argv) {
  size_t start = argc > 1 ? atoi(argv[1]) : 2, max = argc > 2 ? atoi(argv[2]) : 64;
  size_t cap = (size_t)(argc > 3 ? atof(argv[3]) : 32768) << 20;
  int hold = argc > 4 ? atoi(argv[4]) : 2;
  const size_t block = (size_t)256 << 20;
  size_t free0 = 0, total = 0, stack0 = 0;
  cudaError_t e = cudaMemGetInfo(&free0, &total);
  int sms = 0, *flag = NULL;
  if (e == cudaSuccess) e = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0);
  if (e == cudaSuccess) e = cudaDeviceGetLimit(&stack0, cudaLimitStackSize);
  if (e == cudaSuccess) e = cudaMalloc(&flag, sizeof(int));
  if (e != cudaSuccess) {
    printf("{\"workload\":\"stack_limit\",\"largest_ok\":null,\"refused_at\":\"setup\",\"error\":\"setup: %s\",\"pid\":%d}\n",
           cudaGetErrorName(e), getpid());
    return e == cudaErrorMemoryAllocation ? 0 : 1;
  }
  size_t accepted = 0, refused = 0;
  const char *failed = NULL;
  cudaError_t se = cudaSuccess;
  for (size_t kib = start; kib <= max; kib *= 2) {
    if ((se = cudaDeviceSetLimit(cudaLimitStackSize, kib << 10)) != cudaSuccess) { failed = "cudaDeviceSetLimit"; }
    else if ((se = launch(flag, sms * 16)) != cudaSuccess) { failed = "launch"; }
    if (failed) { refused = kib; break; }
    accepted = kib;
  }
  cudaGetLastError();
  size_t stack = 0, free1 = 0;
  cudaDeviceGetLimit(&stack, cudaLimitStackSize);
  cudaMemGetInfo(&free1, &total);
  size_t blocks = 0;
  cudaError_t fe = cudaSuccess;
  while ((blocks + 1) * block <= cap) {
    void *p;
    if ((fe = cudaMalloc(&p, block)) != cudaSuccess) break;
    blocks++;
  }
  cudaGetLastError();
  cudaError_t after = launch(flag, sms * 16);  // the context still runs kernels at the peak
  sleep(hold);
  char acc[32] = "null", ref[32] = "null", err[128] = "null";
  if (accepted) snprintf(acc, sizeof acc, "%zu", accepted);
  if (failed) {
    snprintf(ref, sizeof ref, "%zu", refused);
    snprintf(err, sizeof err, "\"%s: %s\"", failed, cudaGetErrorName(se));
  }
  printf("{\"workload\":\"stack_limit\",\"largest_ok\":%s,\"refused_at\":%s,\"error\":%s,\"capped\":%s,"
         "\"stack_bytes\":%zu,\"stack_bytes_default\":%zu,\"free_after_stack\":%zu,\"blocks\":%zu,\"block_mib\":256,"
         "\"fill_error\":\"%s\",\"launch_after_fill\":\"%s\",\"sms\":%d,\"total\":%zu,\"free_at_start\":%zu,\"pid\":%d}\n",
         acc, ref, err, fe == cudaSuccess ? "true" : "false", stack, stack0, free1, blocks,
         fe == cudaSuccess ? "none (stopped at the cap)" : cudaGetErrorName(fe), cudaGetErrorName(after), sms, total,
         free0, getpid());
  bool oom_only = (!failed || se == cudaErrorMemoryAllocation) && (fe == cudaSuccess || fe == cudaErrorMemoryAllocation);
  return oom_only && after == cudaSuccess ? 0 : 1;  // any error but out-of-memory is a failure
}
