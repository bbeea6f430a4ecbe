// Fills the GPU through one CUDA API family until refused; prints one JSON line, holds at the peak.
// usage: family_fill API [BLOCK_MIB [HOLD_S [CAP_MIB]]]
//   CAP_MIB: stop there if nothing refuses (an unlimited managed fill can hang a GPU machine)
//   API: malloc managed pitch array3d mipmapped async pool vmm vmm-released graph
#include <cuda.h>
#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static size_t block;
static size_t taken;  // what the last call really asked the device for (pitch and mip levels differ from block)

static cudaError_t one(const char *api) {
  if (!strcmp(api, "malloc")) { void *p; return cudaMalloc(&p, block); }
  if (!strcmp(api, "managed")) {
    void *p;
    cudaError_t e = cudaMallocManaged(&p, block);
    if (e == cudaSuccess) e = cudaMemset(p, 1, block);  // resident on the device, as a program's data is
    if (e == cudaSuccess) e = cudaDeviceSynchronize();
    return e;
  }
  if (!strcmp(api, "pitch")) {  // rows not a multiple of the pitch alignment: the driver pads them
    void *p; size_t pitch, width = 16384 - 100;
    cudaError_t e = cudaMallocPitch(&p, &pitch, width, block / 16384);
    taken = e == cudaSuccess ? pitch * (block / 16384) : 0;
    return e;
  }
  if (!strcmp(api, "array3d")) {
    cudaArray_t a; cudaChannelFormatDesc d = cudaCreateChannelDesc<float>();
    return cudaMalloc3DArray(&a, &d, make_cudaExtent(1024, 64, block / (1024 * 64 * 4)));
  }
  if (!strcmp(api, "mipmapped")) {
    cudaMipmappedArray_t m; cudaChannelFormatDesc d = cudaCreateChannelDesc<float>();
    size_t side = 1; while (side * side * 4 * 4 <= block) side *= 2;  // level 0 = one block
    taken = side * side * 4 + side * side;  // two levels: side² + (side/2)² floats
    return cudaMallocMipmappedArray(&m, &d, make_cudaExtent(side, side, 0), 2);
  }
  if (!strcmp(api, "async")) {
    void *p; cudaError_t e = cudaMallocAsync(&p, block, 0);
    return e == cudaSuccess ? cudaStreamSynchronize(0) : e;
  }
  if (!strcmp(api, "pool")) {  // an explicit pool, as CuPy's MemoryAsyncPool and frameworks use
    static cudaMemPool_t pool;
    if (!pool) {
      cudaMemPoolProps props = {};
      props.allocType = cudaMemAllocationTypePinned;
      props.location.type = cudaMemLocationTypeDevice;
      props.location.id = 0;
      cudaError_t e = cudaMemPoolCreate(&pool, &props);
      if (e != cudaSuccess) return e;
    }
    void *p; cudaError_t e = cudaMallocFromPoolAsync(&p, block, pool, 0);
    return e == cudaSuccess ? cudaStreamSynchronize(0) : e;
  }
  if (!strcmp(api, "vmm") || !strcmp(api, "vmm-released")) {  // VMM, as PyTorch's expandable segments
    CUmemAllocationProp prop = {};
    prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
    prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    prop.location.id = 0;
    size_t gran = 0;
    cuMemGetAllocationGranularity(&gran, &prop, CU_MEM_ALLOC_GRANULARITY_RECOMMENDED);
    size_t size = (block + gran - 1) / gran * gran;
    CUmemGenericAllocationHandle h;
    CUresult r = cuMemCreate(&h, size, &prop, 0);
    if (r != CUDA_SUCCESS) return r == CUDA_ERROR_OUT_OF_MEMORY ? cudaErrorMemoryAllocation : cudaErrorUnknown;
    CUdeviceptr va;
    if (cuMemAddressReserve(&va, size, 0, 0, 0) || cuMemMap(va, size, 0, h, 0)) return cudaErrorUnknown;
    CUmemAccessDesc acc = {};
    acc.location = prop.location;
    acc.flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
    if (cuMemSetAccess(va, size, &acc, 1)) return cudaErrorUnknown;
    // The CUDA samples' pattern: release the handle at once, the mapping keeps the memory alive.
    if (!strcmp(api, "vmm-released") && cuMemRelease(h)) return cudaErrorUnknown;
    return cudaSuccess;
  }
  if (!strcmp(api, "graph")) {  // a graph memory node: allocated from the graph pool at launch
    cudaGraph_t g; cudaGraphExec_t x; cudaGraphNode_t n;
    cudaMemAllocNodeParams prm = {};
    prm.poolProps.allocType = cudaMemAllocationTypePinned;
    prm.poolProps.location.type = cudaMemLocationTypeDevice;
    prm.poolProps.location.id = 0;
    prm.bytesize = block;
    cudaError_t e = cudaGraphCreate(&g, 0);
    if (!e) e = cudaGraphAddMemAllocNode(&n, g, NULL, 0, &prm);
    if (!e) e = cudaGraphInstantiate(&x, g, 0);
    if (!e) e = cudaGraphLaunch(x, 0);
    if (!e) e = cudaStreamSynchronize(0);
    return e;
  }
  fprintf(stderr, "family_fill: unknown API %s\n", api);
  exit(2);
}

int main(int argc, char **argv) {
  const char *api = argc > 1 ? argv[1] : "malloc";
  block = (size_t)(argc > 2 ? atof(argv[2]) : 256) << 20;
  int hold = argc > 3 ? atoi(argv[3]) : 3;
  size_t cap = (size_t)(argc > 4 ? atof(argv[4]) : 32768) << 20;
  size_t free0 = 0, total = 0;
  cudaError_t e = cudaMemGetInfo(&free0, &total);
  if (e != cudaSuccess) { printf("{\"error\":\"%s\"}\n", cudaGetErrorName(e)); return 1; }
  size_t allocated = 0;
  while (allocated + block <= cap) {
    taken = block;
    if ((e = one(api)) != cudaSuccess) break;
    allocated += taken;
  }
  cudaGetLastError();  // a clean error leaves the runtime usable
  size_t free1 = 0;
  cudaMemGetInfo(&free1, &total);
  sleep(hold);
  printf("{\"workload\":\"CUDA C %s\",\"allocated\":%zu,\"error\":\"%s\",\"total\":%zu,\"free_before\":%zu,\"free_after\":%zu}\n",
         api, allocated, e == cudaSuccess ? "none (stopped at the safety cap)" : cudaGetErrorName(e), total, free0, free1);
  return 0;
}
