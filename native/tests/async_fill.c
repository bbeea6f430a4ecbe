/* Fills the device with stream-ordered allocations (default pool, an explicit pool) or with
 * graph memory nodes until refused, and prints one JSON line per round. Reaches the driver as
 * cudart 13 does (cuGetProcAddress_v2 by base name, flags 2 with --ptsz), by dlsym of versioned
 * names (--dlsym), or built with -DLINKED as a program linked with -lcuda.
 *
 * usage: async-fill [--mode default|pool|graph] [--ptsz] [--dlsym] [--block 4m] [--max SIZE]
 *                   [--rounds N] [--trim] [--keep] [--plain-after] [--launches N] [--hold S] */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../src/common/cuda_api.h"
#include "../src/format/size.h"

typedef CUresult (*init_fn)(unsigned int);
typedef CUresult (*device_get_fn)(CUdevice *, int);
typedef CUresult (*retain_fn)(CUcontext *, CUdevice);
typedef CUresult (*set_current_fn)(CUcontext);
typedef CUresult (*error_name_fn)(CUresult, const char **);
typedef CUresult (*pool_set_attr_fn)(CUmemoryPool, CUmemPool_attribute, void *);
typedef CUresult (*graph_create_fn)(CUgraph *, unsigned int);
typedef CUresult (*graph_destroy_fn)(CUgraph);
typedef CUresult (*add_alloc_fn)(CUgraphNode *, CUgraph, const CUgraphNode *, size_t,
                                 CUDA_MEM_ALLOC_NODE_PARAMS *);
typedef CUresult (*add_free_fn)(CUgraphNode *, CUgraph, const CUgraphNode *, size_t, CUdeviceptr);
typedef unsigned long (*calls_fn)(const char *);

static struct {
  init_fn init;
  device_get_fn device_get;
  retain_fn retain;
  set_current_fn set_current;
  error_name_fn error_name;
  cuMemAlloc_v2_fn alloc;
  cuMemAllocAsync_fn alloc_async;
  cuMemAllocFromPoolAsync_fn alloc_from_pool;
  cuMemFreeAsync_fn free_async;
  cuStreamSynchronize_fn sync;
  cuMemPoolCreate_fn pool_create;
  cuMemPoolTrimTo_fn trim;
  cuMemPoolGetAttribute_fn pool_get;
  pool_set_attr_fn pool_set;
  cuDeviceGetMemPool_fn get_pool;
  graph_create_fn graph_create;
  graph_destroy_fn graph_destroy;
  add_alloc_fn add_alloc;
  add_free_fn add_free;
  cuGraphInstantiateWithParams_fn instantiate;
  cuGraphLaunch_fn launch;
  cuGraphExecDestroy_fn exec_destroy;
  cuDeviceGetGraphMemAttribute_fn graph_attr;
  cuDeviceGraphMemTrim_fn graph_trim;
  calls_fn calls;
} cu;

static void die(const char *what)
{
  printf("{\"error\":\"%s\"}\n", what);
  fflush(stdout);
  exit(1);
}

static int ptsz, use_dlsym;

#ifdef LINKED
unsigned long fake_cuda_async_calls(const char *);

static void load_driver(void)
{
  cu.init = cuInit;
  cu.device_get = cuDeviceGet;
  cu.retain = cuDevicePrimaryCtxRetain;
  cu.set_current = cuCtxSetCurrent;
  cu.error_name = cuGetErrorName;
  cu.alloc = cuMemAlloc_v2;
  cu.alloc_async = ptsz ? cuMemAllocAsync_ptsz : cuMemAllocAsync;
  cu.alloc_from_pool = ptsz ? cuMemAllocFromPoolAsync_ptsz : cuMemAllocFromPoolAsync;
  cu.free_async = ptsz ? cuMemFreeAsync_ptsz : cuMemFreeAsync;
  cu.sync = ptsz ? cuStreamSynchronize_ptsz : cuStreamSynchronize;
  cu.pool_create = cuMemPoolCreate;
  cu.trim = cuMemPoolTrimTo;
  cu.pool_get = cuMemPoolGetAttribute;
  cu.pool_set = cuMemPoolSetAttribute;
  cu.get_pool = cuDeviceGetMemPool;
  cu.graph_create = cuGraphCreate;
  cu.graph_destroy = cuGraphDestroy;
  cu.add_alloc = cuGraphAddMemAllocNode;
  cu.add_free = cuGraphAddMemFreeNode;
  cu.instantiate = ptsz ? cuGraphInstantiateWithParams_ptsz : cuGraphInstantiateWithParams;
  cu.launch = ptsz ? cuGraphLaunch_ptsz : cuGraphLaunch;
  cu.exec_destroy = cuGraphExecDestroy;
  cu.graph_attr = cuDeviceGetGraphMemAttribute;
  cu.graph_trim = cuDeviceGraphMemTrim;
  cu.calls = fake_cuda_async_calls;
}
#else
static cuGetProcAddress_v2_fn get_proc;
static void *handle;

/* By base name as cudart does (flags 2 for the per-thread default stream), or with --dlsym by
 * the versioned name, with the _ptsz suffix where the function has one. */
static void *entry(const char *base, const char *versioned, int has_ptsz)
{
  void *p = NULL;
  if (use_dlsym) {
    char name[128];
    snprintf(name, sizeof name, "%s%s", versioned, ptsz && has_ptsz ? "_ptsz" : "");
    if (!(p = dlsym(handle, name))) die("dlsym failed");
    return p;
  }
  CUdriverProcAddressQueryResult status = -1;
  if (get_proc(base, &p, 13000, ptsz ? CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM : 0,
               &status) != CUDA_SUCCESS || !p || status != CU_GET_PROC_ADDRESS_SUCCESS)
    die("cuGetProcAddress failed");
  return p;
}

static void load_driver(void)
{
  handle = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!handle) die("cannot dlopen libcuda.so.1");
  get_proc = (cuGetProcAddress_v2_fn)dlsym(handle, "cuGetProcAddress_v2");
  if (!get_proc) die("no cuGetProcAddress_v2");
  cu.init = (init_fn)entry("cuInit", "cuInit", 0);
  cu.device_get = (device_get_fn)entry("cuDeviceGet", "cuDeviceGet", 0);
  cu.retain = (retain_fn)entry("cuDevicePrimaryCtxRetain", "cuDevicePrimaryCtxRetain", 0);
  cu.set_current = (set_current_fn)entry("cuCtxSetCurrent", "cuCtxSetCurrent", 0);
  cu.error_name = (error_name_fn)entry("cuGetErrorName", "cuGetErrorName", 0);
  cu.alloc = (cuMemAlloc_v2_fn)entry("cuMemAlloc", "cuMemAlloc_v2", 0);
  cu.alloc_async = (cuMemAllocAsync_fn)entry("cuMemAllocAsync", "cuMemAllocAsync", 1);
  cu.alloc_from_pool = (cuMemAllocFromPoolAsync_fn)entry("cuMemAllocFromPoolAsync",
                                                         "cuMemAllocFromPoolAsync", 1);
  cu.free_async = (cuMemFreeAsync_fn)entry("cuMemFreeAsync", "cuMemFreeAsync", 1);
  cu.sync = (cuStreamSynchronize_fn)entry("cuStreamSynchronize", "cuStreamSynchronize", 1);
  cu.pool_create = (cuMemPoolCreate_fn)entry("cuMemPoolCreate", "cuMemPoolCreate", 0);
  cu.trim = (cuMemPoolTrimTo_fn)entry("cuMemPoolTrimTo", "cuMemPoolTrimTo", 0);
  cu.pool_get = (cuMemPoolGetAttribute_fn)entry("cuMemPoolGetAttribute", "cuMemPoolGetAttribute", 0);
  cu.pool_set = (pool_set_attr_fn)entry("cuMemPoolSetAttribute", "cuMemPoolSetAttribute", 0);
  cu.get_pool = (cuDeviceGetMemPool_fn)entry("cuDeviceGetMemPool", "cuDeviceGetMemPool", 0);
  cu.graph_create = (graph_create_fn)entry("cuGraphCreate", "cuGraphCreate", 0);
  cu.graph_destroy = (graph_destroy_fn)entry("cuGraphDestroy", "cuGraphDestroy", 0);
  cu.add_alloc = (add_alloc_fn)entry("cuGraphAddMemAllocNode", "cuGraphAddMemAllocNode", 0);
  cu.add_free = (add_free_fn)entry("cuGraphAddMemFreeNode", "cuGraphAddMemFreeNode", 0);
  cu.instantiate = (cuGraphInstantiateWithParams_fn)entry("cuGraphInstantiateWithParams",
                                                          "cuGraphInstantiateWithParams", 1);
  cu.launch = (cuGraphLaunch_fn)entry("cuGraphLaunch", "cuGraphLaunch", 1);
  cu.exec_destroy = (cuGraphExecDestroy_fn)entry("cuGraphExecDestroy", "cuGraphExecDestroy", 0);
  cu.graph_attr = (cuDeviceGetGraphMemAttribute_fn)entry("cuDeviceGetGraphMemAttribute",
                                                         "cuDeviceGetGraphMemAttribute", 0);
  cu.graph_trim = (cuDeviceGraphMemTrim_fn)entry("cuDeviceGraphMemTrim", "cuDeviceGraphMemTrim", 0);
  cu.calls = (calls_fn)dlsym(handle, "fake_cuda_async_calls"); /* the fake driver only */
}
#endif

static uint64_t size_arg(const char *text)
{
  uint64_t v;
  if (gpumem_size_parse(text, &v, NULL, 0)) die("bad size argument");
  return v;
}

static const char *name_of(CUresult rc)
{
  const char *name = NULL;
  if (rc == CUDA_SUCCESS) return NULL;
  if (cu.error_name(rc, &name) != CUDA_SUCCESS || !name) name = "unknown error";
  return name;
}

static void print_error(const char *key, CUresult rc)
{
  const char *n = name_of(rc);
  printf(",\"%s\":%s%s%s", key, n ? "\"" : "", n ? n : "null", n ? "\"" : "");
}

static void print_calls(void)
{
  static const char *const names[] = {"cuMemAllocAsync", "cuMemAllocAsync_ptsz",
                                      "cuMemAllocFromPoolAsync", "cuMemAllocFromPoolAsync_ptsz",
                                      "cuMemFreeAsync", "cuMemFreeAsync_ptsz", "cuGraphLaunch",
                                      "cuGraphLaunch_ptsz"};
  printf(",\"calls\":{");
  for (size_t i = 0; i < sizeof names / sizeof *names; i++)
    printf("%s\"%s\":%lu", i ? "," : "", names[i], cu.calls ? cu.calls(names[i]) : 0UL);
  printf("}");
}

/* k allocation nodes of block bytes, each freed again in the graph. */
static CUresult graph_round(CUdevice dev, int k, uint64_t block, int launches)
{
  CUgraph g;
  CUgraphNode node;
  if (cu.graph_create(&g, 0) != CUDA_SUCCESS) die("cuGraphCreate failed");
  CUdeviceptr *ptrs = calloc((size_t)k, sizeof *ptrs);
  for (int i = 0; i < k; i++) {
    CUDA_MEM_ALLOC_NODE_PARAMS p;
    memset(&p, 0, sizeof p);
    p.poolProps.allocType = CU_MEM_ALLOCATION_TYPE_PINNED;
    p.poolProps.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    p.poolProps.location.id = dev;
    p.bytesize = block;
    if (cu.add_alloc(&node, g, NULL, 0, &p) != CUDA_SUCCESS) die("cuGraphAddMemAllocNode failed");
    ptrs[i] = p.dptr;
  }
  for (int i = 0; i < k; i++)
    if (cu.add_free(&node, g, NULL, 0, ptrs[i]) != CUDA_SUCCESS) die("cuGraphAddMemFreeNode failed");
  free(ptrs);
  CUgraphExec exec;
  CUDA_GRAPH_INSTANTIATE_PARAMS ip;
  memset(&ip, 0, sizeof ip);
  if (cu.instantiate(&exec, g, &ip) != CUDA_SUCCESS) die("cuGraphInstantiateWithParams failed");
  CUresult rc = CUDA_SUCCESS;
  for (int i = 0; i < launches && rc == CUDA_SUCCESS; i++) rc = cu.launch(exec, NULL);
  cu.exec_destroy(exec);
  cu.graph_destroy(g);
  return rc;
}

int main(int argc, char **argv)
{
  uint64_t block = 4ULL << 20, max = 0;
  const char *mode = "default";
  int rounds = 1, trim = 0, keep = 0, plain_after = 0, launches = 3;
  double hold = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--ptsz")) ptsz = 1;
    else if (!strcmp(a, "--dlsym")) use_dlsym = 1;
    else if (!strcmp(a, "--trim")) trim = 1;
    else if (!strcmp(a, "--keep")) keep = 1;
    else if (!strcmp(a, "--plain-after")) plain_after = 1;
    else if (!v) die("missing argument value");
    else if (!strcmp(a, "--mode")) mode = argv[++i];
    else if (!strcmp(a, "--block")) block = size_arg(argv[++i]);
    else if (!strcmp(a, "--max")) max = size_arg(argv[++i]);
    else if (!strcmp(a, "--rounds")) rounds = atoi(argv[++i]);
    else if (!strcmp(a, "--launches")) launches = atoi(argv[++i]);
    else if (!strcmp(a, "--hold")) hold = atof(argv[++i]);
    else die("unknown argument");
  }
  load_driver();
  CUdevice dev;
  CUcontext ctx;
  if (cu.init(0) != CUDA_SUCCESS || cu.device_get(&dev, 0) != CUDA_SUCCESS) die("no device");
  if (cu.retain(&ctx, dev) != CUDA_SUCCESS || cu.set_current(ctx) != CUDA_SUCCESS)
    die("cannot make a context current");
  int graph = !strcmp(mode, "graph"), explicit_pool = !strcmp(mode, "pool");
  CUmemoryPool pool = NULL;
  if (explicit_pool) {
    CUmemPoolProps props;
    memset(&props, 0, sizeof props);
    props.allocType = CU_MEM_ALLOCATION_TYPE_PINNED;
    props.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    props.location.id = dev;
    if (cu.pool_create(&pool, &props) != CUDA_SUCCESS) die("cuMemPoolCreate failed");
  } else if (!graph && cu.get_pool(&pool, dev) != CUDA_SUCCESS) {
    die("cuDeviceGetMemPool failed");
  }
  if (keep && pool) {
    cuuint64_t all = ~0ULL;
    if (cu.pool_set(pool, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, &all) != CUDA_SUCCESS)
      die("cuMemPoolSetAttribute failed");
  }
  size_t cap = 1024, n = 0;
  CUdeviceptr *blocks = malloc(cap * sizeof *blocks);
  for (int round = 1; round <= rounds; round++) {
    CUresult rc = CUDA_SUCCESS, plain_rc = CUDA_SUCCESS;
    uint64_t allocated = 0;
    n = 0;
    if (graph) { /* k nodes, k = 1, 2, ...: the largest graph that could be launched */
      for (int k = 1; !max || (uint64_t)k * block <= max; k++) {
        if ((rc = graph_round(dev, k, block, launches)) != CUDA_SUCCESS) break;
        allocated = (uint64_t)k * block;
        n = (size_t)k;
      }
    } else {
      while (!max || allocated + block <= max) {
        if (n == cap && !(blocks = realloc(blocks, (cap *= 2) * sizeof *blocks))) die("no memory");
        rc = explicit_pool ? cu.alloc_from_pool(&blocks[n], block, pool, NULL)
                           : cu.alloc_async(&blocks[n], block, NULL);
        if (rc != CUDA_SUCCESS) break;
        n++;
        allocated += block;
      }
    }
    cuuint64_t reserved = 0, high = 0, used = 0;
    if (graph) {
      cu.graph_attr(dev, CU_GRAPH_MEM_ATTR_RESERVED_MEM_CURRENT, &reserved);
      cu.graph_attr(dev, CU_GRAPH_MEM_ATTR_RESERVED_MEM_HIGH, &high);
    } else {
      cu.pool_get(pool, CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT, &reserved);
      cu.pool_get(pool, CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH, &high);
      cu.pool_get(pool, CU_MEMPOOL_ATTR_USED_MEM_CURRENT, &used);
    }
    /* Give it back for the next round: freed in stream order, then as the flags say. */
    if (!graph && (round < rounds || plain_after)) {
      for (size_t i = 0; i < n; i++) cu.free_async(blocks[i], NULL);
      cu.sync(NULL);
      if (trim) cu.trim(pool, 0);
    } else if (graph && trim) {
      cu.graph_trim(dev);
    }
    cuuint64_t after = 0;
    if (graph) cu.graph_attr(dev, CU_GRAPH_MEM_ATTR_RESERVED_MEM_CURRENT, &after);
    else cu.pool_get(pool, CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT, &after);
    if (plain_after && round == rounds) {
      CUdeviceptr p;
      plain_rc = cu.alloc(&p, block);
    }
    printf("{\"round\":%d,\"allocated\":%llu,\"blocks\":%zu", round,
           (unsigned long long)allocated, n);
    print_error("error", rc);
    printf(",\"reserved\":%llu,\"reserved_high\":%llu,\"used\":%llu,\"reserved_after\":%llu",
           (unsigned long long)reserved, (unsigned long long)high, (unsigned long long)used,
           (unsigned long long)after);
    if (plain_after && round == rounds) print_error("plain_after", plain_rc);
    print_calls();
    printf("}\n");
    fflush(stdout);
  }
  if (hold > 0) usleep((useconds_t)(hold * 1e6));
  return 0;
}
