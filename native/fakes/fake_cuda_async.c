/* The fake driver's stream-ordered allocator, memory pools and graph memory, with the real one's
 * reserved-memory behaviour: what a pool reserves counts against the fake device until released.
 *
 * A pool grows by the missing bytes rounded up to FAKE_CUDA_POOL_CHUNK (size grammar, default
 * 2m), ignoring fragmentation; it keeps freed memory until cuMemPoolTrimTo, or until a
 * cuStreamSynchronize/cuCtxSynchronize releases what lies above its release threshold (default 0).
 * Work completes at once, so a stream-ordered free takes effect at the call. The graph pool maps
 * an executable graph's allocation nodes (their sum) at its first launch and keeps them until
 * cuDeviceGraphMemTrim. fake_cuda_async_calls(name) counts the calls of each entry point. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../src/format/size.h"
#include "fake_cuda_async.h"
#include "fake_cuda_families.h" /* fake_charge, fake_uncharge, fake_current_device */

#define MAX_DEVICES 64
#define POOL_BASE 0x600000000000ULL
#define GRAPH_BASE 0x500000000000ULL
#define SPAN 0x10000000000ULL

struct CUmemPoolHandle_st {
  CUdevice dev;
  int destroyed;
  uint64_t reserved, used, reserved_high, used_high, threshold;
  struct CUmemPoolHandle_st *next;
};

struct CUgraphNode_st {
  int type;
  CUDA_MEM_ALLOC_NODE_PARAMS params; /* allocation nodes */
  struct CUgraphNode_st *next;
};

struct CUgraph_st {
  struct CUgraphNode_st *nodes;
  size_t count;
};

struct CUgraphExec_st {
  CUdevice dev;
  uint64_t bytes; /* the sum of its allocation nodes */
  int mapped;
  struct CUgraphExec_st *next;
};

struct block {
  CUdeviceptr ptr;
  uint64_t size;
  struct CUmemPoolHandle_st *pool;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct CUmemPoolHandle_st default_pool[MAX_DEVICES], *current_pool[MAX_DEVICES];
static struct CUmemPoolHandle_st *pools; /* every pool ever made, for synchronize */
static struct block *blocks;
static size_t nblocks, blocks_cap;
static uint64_t next_offset[MAX_DEVICES], graph_offset;
static struct CUgraphExec_st *execs;
static uint64_t graph_reserved[MAX_DEVICES], graph_high[MAX_DEVICES], graph_orphans[MAX_DEVICES];
static uint64_t chunk;

/* ---- call counters: which entry (plain or _ptsz) was really called ---- */
static const char *const counted[] = {
  "cuMemAllocAsync", "cuMemAllocAsync_ptsz", "cuMemFreeAsync", "cuMemFreeAsync_ptsz",
  "cuMemAllocFromPoolAsync", "cuMemAllocFromPoolAsync_ptsz", "cuGraphLaunch", "cuGraphLaunch_ptsz",
  "cuStreamSynchronize", "cuStreamSynchronize_ptsz", "cuGraphInstantiateWithParams",
  "cuGraphInstantiateWithParams_ptsz",
};
static unsigned long calls[sizeof counted / sizeof *counted];

static void count(const char *name)
{
  for (size_t i = 0; i < sizeof counted / sizeof *counted; i++)
    if (!strcmp(counted[i], name)) __atomic_add_fetch(&calls[i], 1, __ATOMIC_RELAXED);
}

__attribute__((visibility("default"))) unsigned long fake_cuda_async_calls(const char *name)
{
  for (size_t i = 0; i < sizeof counted / sizeof *counted; i++)
    if (!strcmp(counted[i], name)) return __atomic_load_n(&calls[i], __ATOMIC_RELAXED);
  return 0;
}

/* ---- pools ---- */

static struct CUmemPoolHandle_st *pool_of(CUdevice dev)
{
  if (!chunk) {
    const char *c = getenv("FAKE_CUDA_POOL_CHUNK");
    if (!c || gpumem_size_parse(c, &chunk, NULL, 0) || chunk == 0) chunk = 2ULL << 20;
  }
  static int listed[MAX_DEVICES];
  struct CUmemPoolHandle_st *p = &default_pool[dev];
  if (!listed[dev]) { /* first use: join the list */
    listed[dev] = 1;
    p->dev = dev;
    p->next = pools;
    pools = p;
  }
  return current_pool[dev] ? current_pool[dev] : p;
}

/* Gives back what p does not use above keep; lock held. */
static void release_above(struct CUmemPoolHandle_st *p, uint64_t keep)
{
  if (p->reserved <= keep) return;
  uint64_t give = p->reserved - keep, unused = p->reserved - p->used;
  if (give > unused) give = unused;
  p->reserved -= give;
  fake_uncharge(p->dev, give);
}

static CUresult pool_alloc(CUdeviceptr *dptr, size_t bytesize, struct CUmemPoolHandle_st *p)
{
  if (!dptr || bytesize == 0) return CUDA_ERROR_INVALID_VALUE;
  uint64_t size = (bytesize + 511) & ~511ULL;
  CUresult rc = CUDA_SUCCESS;
  pthread_mutex_lock(&lock);
  if (!p) {
    CUdevice dev;
    if ((rc = fake_current_device(&dev))) goto out;
    p = pool_of(dev);
  }
  if (p->destroyed) { rc = CUDA_ERROR_INVALID_VALUE; goto out; }
  if (nblocks == blocks_cap) {
    size_t ncap = blocks_cap ? blocks_cap * 2 : 256;
    struct block *n = realloc(blocks, ncap * sizeof *n);
    if (!n) { rc = CUDA_ERROR_OUT_OF_MEMORY; goto out; }
    blocks = n;
    blocks_cap = ncap;
  }
  uint64_t unused = p->reserved - p->used;
  if (size > unused) {
    uint64_t grow = (size - unused + chunk - 1) / chunk * chunk;
    if ((rc = fake_charge(p->dev, grow))) goto out;
    p->reserved += grow;
    if (p->reserved > p->reserved_high) p->reserved_high = p->reserved;
  }
  p->used += size;
  if (p->used > p->used_high) p->used_high = p->used;
  *dptr = POOL_BASE + (uint64_t)p->dev * SPAN + next_offset[p->dev];
  next_offset[p->dev] += size;
  blocks[nblocks++] = (struct block){*dptr, size, p};
out:
  pthread_mutex_unlock(&lock);
  return rc;
}

static CUresult pool_free(CUdeviceptr dptr)
{
  CUresult rc = CUDA_ERROR_INVALID_VALUE;
  pthread_mutex_lock(&lock);
  for (size_t i = nblocks; i-- > 0;)
    if (blocks[i].ptr == dptr) {
      blocks[i].pool->used -= blocks[i].size;
      blocks[i] = blocks[--nblocks];
      rc = CUDA_SUCCESS;
      break;
    }
  pthread_mutex_unlock(&lock);
  return rc;
}

/* Synchronizing releases what each pool holds above its release threshold. */
static CUresult synchronize(void)
{
  pthread_mutex_lock(&lock);
  for (struct CUmemPoolHandle_st *p = pools; p; p = p->next)
    if (!p->destroyed) release_above(p, p->threshold);
  pthread_mutex_unlock(&lock);
  return CUDA_SUCCESS;
}

CUresult cuMemAllocAsync(CUdeviceptr *dptr, size_t bytesize, CUstream hStream)
{
  (void)hStream;
  count("cuMemAllocAsync");
  return pool_alloc(dptr, bytesize, NULL);
}

CUresult cuMemAllocAsync_ptsz(CUdeviceptr *dptr, size_t bytesize, CUstream hStream)
{
  (void)hStream;
  count("cuMemAllocAsync_ptsz");
  return pool_alloc(dptr, bytesize, NULL);
}

CUresult cuMemAllocFromPoolAsync(CUdeviceptr *dptr, size_t bytesize, CUmemoryPool pool,
                                 CUstream hStream)
{
  (void)hStream;
  count("cuMemAllocFromPoolAsync");
  return pool ? pool_alloc(dptr, bytesize, pool) : CUDA_ERROR_INVALID_VALUE;
}

CUresult cuMemAllocFromPoolAsync_ptsz(CUdeviceptr *dptr, size_t bytesize, CUmemoryPool pool,
                                      CUstream hStream)
{
  (void)hStream;
  count("cuMemAllocFromPoolAsync_ptsz");
  return pool ? pool_alloc(dptr, bytesize, pool) : CUDA_ERROR_INVALID_VALUE;
}

CUresult cuMemFreeAsync(CUdeviceptr dptr, CUstream hStream)
{
  (void)hStream;
  count("cuMemFreeAsync");
  return pool_free(dptr);
}

CUresult cuMemFreeAsync_ptsz(CUdeviceptr dptr, CUstream hStream)
{
  (void)hStream;
  count("cuMemFreeAsync_ptsz");
  return pool_free(dptr);
}

CUresult cuStreamSynchronize(CUstream hStream)
{
  (void)hStream;
  count("cuStreamSynchronize");
  return synchronize();
}

CUresult cuStreamSynchronize_ptsz(CUstream hStream)
{
  (void)hStream;
  count("cuStreamSynchronize_ptsz");
  return synchronize();
}

CUresult cuCtxSynchronize(void) { return synchronize(); }

/* Nothing is ever captured in the fake. */
CUresult cuStreamIsCapturing(CUstream hStream, int *status)
{
  (void)hStream;
  if (!status) return CUDA_ERROR_INVALID_VALUE;
  *status = CU_STREAM_CAPTURE_STATUS_NONE;
  return CUDA_SUCCESS;
}

CUresult cuStreamIsCapturing_ptsz(CUstream hStream, int *status)
{
  return cuStreamIsCapturing(hStream, status);
}

CUresult cuMemPoolCreate(CUmemoryPool *pool, const CUmemPoolProps *props)
{
  if (!pool || !props || props->allocType != CU_MEM_ALLOCATION_TYPE_PINNED ||
      props->location.type != CU_MEM_LOCATION_TYPE_DEVICE)
    return CUDA_ERROR_INVALID_VALUE;
  CUresult rc = fake_check_device(props->location.id);
  if (rc) return rc;
  struct CUmemPoolHandle_st *p = calloc(1, sizeof *p);
  if (!p) return CUDA_ERROR_OUT_OF_MEMORY;
  p->dev = props->location.id;
  pthread_mutex_lock(&lock);
  pool_of(p->dev); /* the default pool joins the list first */
  p->next = pools;
  pools = p;
  pthread_mutex_unlock(&lock);
  *pool = p;
  return CUDA_SUCCESS;
}

/* Kept in the list (destroyed) so that handles stay unique, as a test wants. */
CUresult cuMemPoolDestroy(CUmemoryPool pool)
{
  if (!pool || pool == &default_pool[pool->dev]) return CUDA_ERROR_INVALID_VALUE;
  pthread_mutex_lock(&lock);
  release_above(pool, 0);
  pool->destroyed = 1;
  if (current_pool[pool->dev] == pool) current_pool[pool->dev] = NULL;
  pthread_mutex_unlock(&lock);
  return CUDA_SUCCESS;
}

CUresult cuMemPoolTrimTo(CUmemoryPool pool, size_t minBytesToKeep)
{
  if (!pool || pool->destroyed) return CUDA_ERROR_INVALID_VALUE;
  pthread_mutex_lock(&lock);
  release_above(pool, minBytesToKeep);
  pthread_mutex_unlock(&lock);
  return CUDA_SUCCESS;
}

CUresult cuMemPoolGetAttribute(CUmemoryPool pool, CUmemPool_attribute attr, void *value)
{
  if (!pool || pool->destroyed || !value) return CUDA_ERROR_INVALID_VALUE;
  cuuint64_t v;
  pthread_mutex_lock(&lock);
  switch (attr) {
  case CU_MEMPOOL_ATTR_RELEASE_THRESHOLD: v = pool->threshold; break;
  case CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT: v = pool->reserved; break;
  case CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH: v = pool->reserved_high; break;
  case CU_MEMPOOL_ATTR_USED_MEM_CURRENT: v = pool->used; break;
  case CU_MEMPOOL_ATTR_USED_MEM_HIGH: v = pool->used_high; break;
  default: pthread_mutex_unlock(&lock); return CUDA_ERROR_INVALID_VALUE;
  }
  pthread_mutex_unlock(&lock);
  memcpy(value, &v, sizeof v);
  return CUDA_SUCCESS;
}

CUresult cuMemPoolSetAttribute(CUmemoryPool pool, CUmemPool_attribute attr, void *value)
{
  if (!pool || pool->destroyed || !value) return CUDA_ERROR_INVALID_VALUE;
  cuuint64_t v;
  memcpy(&v, value, sizeof v);
  CUresult rc = CUDA_SUCCESS;
  pthread_mutex_lock(&lock);
  if (attr == CU_MEMPOOL_ATTR_RELEASE_THRESHOLD) pool->threshold = v;
  else if (attr == CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH && v == 0) pool->reserved_high = pool->reserved;
  else if (attr == CU_MEMPOOL_ATTR_USED_MEM_HIGH && v == 0) pool->used_high = pool->used;
  else rc = CUDA_ERROR_INVALID_VALUE;
  pthread_mutex_unlock(&lock);
  return rc;
}

CUresult cuDeviceGetDefaultMemPool(CUmemoryPool *pool, CUdevice dev)
{
  CUresult rc = fake_check_device(dev);
  if (rc || !pool) return rc ? rc : CUDA_ERROR_INVALID_VALUE;
  pthread_mutex_lock(&lock);
  pool_of(dev);
  *pool = &default_pool[dev];
  pthread_mutex_unlock(&lock);
  return CUDA_SUCCESS;
}

CUresult cuDeviceGetMemPool(CUmemoryPool *pool, CUdevice dev)
{
  CUresult rc = fake_check_device(dev);
  if (rc || !pool) return rc ? rc : CUDA_ERROR_INVALID_VALUE;
  pthread_mutex_lock(&lock);
  *pool = pool_of(dev);
  pthread_mutex_unlock(&lock);
  return CUDA_SUCCESS;
}

CUresult cuDeviceSetMemPool(CUdevice dev, CUmemoryPool pool)
{
  CUresult rc = fake_check_device(dev);
  if (rc) return rc;
  if (!pool || pool->destroyed || pool->dev != dev) return CUDA_ERROR_INVALID_VALUE;
  pthread_mutex_lock(&lock);
  current_pool[dev] = pool == &default_pool[dev] ? NULL : pool;
  pthread_mutex_unlock(&lock);
  return CUDA_SUCCESS;
}

/* ---- graphs ---- */

CUresult cuGraphCreate(CUgraph *graph, unsigned int flags)
{
  if (!graph || flags) return CUDA_ERROR_INVALID_VALUE;
  return (*graph = calloc(1, sizeof **graph)) ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY;
}

CUresult cuGraphDestroy(CUgraph graph)
{
  if (!graph) return CUDA_ERROR_INVALID_VALUE;
  for (struct CUgraphNode_st *n = graph->nodes, *next; n; n = next) {
    next = n->next;
    free(n);
  }
  free(graph);
  return CUDA_SUCCESS;
}

static CUresult add_node(CUgraphNode *node, CUgraph graph, int type)
{
  if (!node || !graph) return CUDA_ERROR_INVALID_VALUE;
  struct CUgraphNode_st *n = calloc(1, sizeof *n), **end = &graph->nodes;
  if (!n) return CUDA_ERROR_OUT_OF_MEMORY;
  n->type = type;
  while (*end) end = &(*end)->next;
  *end = n;
  graph->count++;
  *node = n;
  return CUDA_SUCCESS;
}

/* Dependencies are accepted and ignored: the fake runs nodes in the order they were added. */
CUresult cuGraphAddMemAllocNode(CUgraphNode *node, CUgraph graph, const CUgraphNode *deps,
                                size_t ndeps, CUDA_MEM_ALLOC_NODE_PARAMS *params)
{
  (void)deps;
  (void)ndeps;
  if (!params || params->bytesize == 0 ||
      params->poolProps.allocType != CU_MEM_ALLOCATION_TYPE_PINNED ||
      params->poolProps.location.type != CU_MEM_LOCATION_TYPE_DEVICE ||
      fake_check_device(params->poolProps.location.id))
    return CUDA_ERROR_INVALID_VALUE;
  CUresult rc = add_node(node, graph, CU_GRAPH_NODE_TYPE_MEM_ALLOC);
  if (rc) return rc;
  pthread_mutex_lock(&lock);
  params->dptr = GRAPH_BASE + graph_offset; /* virtual addresses, fixed for the graph's life */
  graph_offset += (params->bytesize + 511) & ~511ULL;
  pthread_mutex_unlock(&lock);
  (*node)->params = *params;
  return CUDA_SUCCESS;
}

CUresult cuGraphAddMemFreeNode(CUgraphNode *node, CUgraph graph, const CUgraphNode *deps,
                               size_t ndeps, CUdeviceptr dptr)
{
  (void)deps;
  (void)ndeps;
  if (!dptr) return CUDA_ERROR_INVALID_VALUE;
  return add_node(node, graph, CU_GRAPH_NODE_TYPE_MEM_FREE);
}

CUresult cuGraphGetNodes(CUgraph graph, CUgraphNode *nodes, size_t *numNodes)
{
  if (!graph || !numNodes) return CUDA_ERROR_INVALID_VALUE;
  if (nodes) {
    size_t i = 0;
    for (struct CUgraphNode_st *n = graph->nodes; n && i < *numNodes; n = n->next) nodes[i++] = n;
    for (size_t j = i; j < *numNodes; j++) nodes[j] = NULL;
    if (*numNodes > graph->count) *numNodes = graph->count;
  } else {
    *numNodes = graph->count;
  }
  return CUDA_SUCCESS;
}

CUresult cuGraphNodeGetType(CUgraphNode node, CUgraphNodeType *type)
{
  if (!node || !type) return CUDA_ERROR_INVALID_VALUE;
  *type = node->type;
  return CUDA_SUCCESS;
}

CUresult cuGraphMemAllocNodeGetParams(CUgraphNode node, CUDA_MEM_ALLOC_NODE_PARAMS *params)
{
  if (!node || !params || node->type != CU_GRAPH_NODE_TYPE_MEM_ALLOC)
    return CUDA_ERROR_INVALID_VALUE;
  *params = node->params;
  return CUDA_SUCCESS;
}

static CUresult instantiate(CUgraphExec *exec, CUgraph graph)
{
  if (!exec || !graph) return CUDA_ERROR_INVALID_VALUE;
  struct CUgraphExec_st *e = calloc(1, sizeof *e);
  if (!e) return CUDA_ERROR_OUT_OF_MEMORY;
  e->dev = -1;
  for (struct CUgraphNode_st *n = graph->nodes; n; n = n->next)
    if (n->type == CU_GRAPH_NODE_TYPE_MEM_ALLOC) {
      if (e->dev >= 0 && e->dev != n->params.poolProps.location.id) {
        free(e);
        return CUDA_ERROR_INVALID_VALUE; /* the fake keeps to one device per graph */
      }
      e->dev = n->params.poolProps.location.id;
      e->bytes += (n->params.bytesize + 511) & ~511ULL;
    }
  pthread_mutex_lock(&lock);
  e->next = execs;
  execs = e;
  pthread_mutex_unlock(&lock);
  *exec = e;
  return CUDA_SUCCESS;
}

CUresult cuGraphInstantiate_v2(CUgraphExec *exec, CUgraph graph, CUgraphNode *errNode, char *log,
                               size_t logSize)
{
  (void)errNode;
  if (log && logSize) log[0] = '\0';
  return instantiate(exec, graph);
}

CUresult cuGraphInstantiateWithFlags(CUgraphExec *exec, CUgraph graph, unsigned long long flags)
{
  (void)flags;
  return instantiate(exec, graph);
}

CUresult cuGraphInstantiateWithParams(CUgraphExec *exec, CUgraph graph,
                                      CUDA_GRAPH_INSTANTIATE_PARAMS *params)
{
  count("cuGraphInstantiateWithParams");
  if (!params) return CUDA_ERROR_INVALID_VALUE;
  CUresult rc = instantiate(exec, graph);
  params->result_out = rc ? 1 : 0;
  params->hErrNode_out = NULL;
  return rc;
}

CUresult cuGraphInstantiateWithParams_ptsz(CUgraphExec *exec, CUgraph graph,
                                           CUDA_GRAPH_INSTANTIATE_PARAMS *params)
{
  count("cuGraphInstantiateWithParams_ptsz");
  if (!params) return CUDA_ERROR_INVALID_VALUE;
  CUresult rc = instantiate(exec, graph);
  params->result_out = rc ? 1 : 0;
  return rc;
}

/* The first launch after a trim maps the graph's memory; later ones reuse it. */
static CUresult launch(CUgraphExec exec)
{
  if (!exec) return CUDA_ERROR_INVALID_VALUE;
  CUresult rc = CUDA_SUCCESS;
  pthread_mutex_lock(&lock);
  if (!exec->mapped && exec->bytes) {
    rc = fake_charge(exec->dev, exec->bytes);
    if (!rc) {
      exec->mapped = 1;
      graph_reserved[exec->dev] += exec->bytes;
      if (graph_reserved[exec->dev] > graph_high[exec->dev])
        graph_high[exec->dev] = graph_reserved[exec->dev];
    }
  }
  pthread_mutex_unlock(&lock);
  return rc;
}

CUresult cuGraphLaunch(CUgraphExec exec, CUstream hStream)
{
  (void)hStream;
  count("cuGraphLaunch");
  return launch(exec);
}

CUresult cuGraphLaunch_ptsz(CUgraphExec exec, CUstream hStream)
{
  (void)hStream;
  count("cuGraphLaunch_ptsz");
  return launch(exec);
}

/* Its mapped memory stays in the graph pool until the next trim. */
CUresult cuGraphExecDestroy(CUgraphExec exec)
{
  if (!exec) return CUDA_ERROR_INVALID_VALUE;
  pthread_mutex_lock(&lock);
  for (struct CUgraphExec_st **p = &execs; *p; p = &(*p)->next)
    if (*p == exec) {
      *p = exec->next;
      break;
    }
  if (exec->mapped) graph_orphans[exec->dev] += exec->bytes;
  pthread_mutex_unlock(&lock);
  free(exec);
  return CUDA_SUCCESS;
}

CUresult cuDeviceGraphMemTrim(CUdevice dev)
{
  CUresult rc = fake_check_device(dev);
  if (rc) return rc;
  pthread_mutex_lock(&lock);
  for (struct CUgraphExec_st *e = execs; e; e = e->next)
    if (e->dev == dev && e->mapped) {
      e->mapped = 0;
      graph_reserved[dev] -= e->bytes;
      fake_uncharge(dev, e->bytes);
    }
  graph_reserved[dev] -= graph_orphans[dev];
  fake_uncharge(dev, graph_orphans[dev]);
  graph_orphans[dev] = 0;
  pthread_mutex_unlock(&lock);
  return CUDA_SUCCESS;
}

CUresult cuDeviceGetGraphMemAttribute(CUdevice dev, CUgraphMem_attribute attr, void *value)
{
  CUresult rc = fake_check_device(dev);
  if (rc) return rc;
  if (!value) return CUDA_ERROR_INVALID_VALUE;
  cuuint64_t v = 0; /* used memory: every fake graph frees what it allocates */
  pthread_mutex_lock(&lock);
  if (attr == CU_GRAPH_MEM_ATTR_RESERVED_MEM_CURRENT) v = graph_reserved[dev];
  else if (attr == CU_GRAPH_MEM_ATTR_RESERVED_MEM_HIGH) v = graph_high[dev];
  else if (attr != CU_GRAPH_MEM_ATTR_USED_MEM_CURRENT && attr != CU_GRAPH_MEM_ATTR_USED_MEM_HIGH)
    rc = CUDA_ERROR_INVALID_VALUE;
  pthread_mutex_unlock(&lock);
  memcpy(value, &v, sizeof v);
  return rc;
}

/* ---- cuGetProcAddress ---- */

static const struct {
  const char *base;
  int min_version;
  int ptsz; /* answers flags = 2 */
  void *fn;
} entries[] = {
  {"cuMemAllocAsync", 11020, 0, (void *)cuMemAllocAsync},
  {"cuMemAllocAsync", 11020, 1, (void *)cuMemAllocAsync_ptsz},
  {"cuMemFreeAsync", 11020, 0, (void *)cuMemFreeAsync},
  {"cuMemFreeAsync", 11020, 1, (void *)cuMemFreeAsync_ptsz},
  {"cuMemAllocFromPoolAsync", 11020, 0, (void *)cuMemAllocFromPoolAsync},
  {"cuMemAllocFromPoolAsync", 11020, 1, (void *)cuMemAllocFromPoolAsync_ptsz},
  {"cuMemPoolCreate", 11020, 0, (void *)cuMemPoolCreate},
  {"cuMemPoolDestroy", 11020, 0, (void *)cuMemPoolDestroy},
  {"cuMemPoolTrimTo", 11020, 0, (void *)cuMemPoolTrimTo},
  {"cuMemPoolGetAttribute", 11020, 0, (void *)cuMemPoolGetAttribute},
  {"cuMemPoolSetAttribute", 11020, 0, (void *)cuMemPoolSetAttribute},
  {"cuDeviceGetDefaultMemPool", 11020, 0, (void *)cuDeviceGetDefaultMemPool},
  {"cuDeviceGetMemPool", 11020, 0, (void *)cuDeviceGetMemPool},
  {"cuDeviceSetMemPool", 11020, 0, (void *)cuDeviceSetMemPool},
  {"cuStreamSynchronize", 2000, 0, (void *)cuStreamSynchronize},
  {"cuStreamSynchronize", 2000, 1, (void *)cuStreamSynchronize_ptsz},
  {"cuStreamIsCapturing", 10000, 0, (void *)cuStreamIsCapturing},
  {"cuStreamIsCapturing", 10000, 1, (void *)cuStreamIsCapturing_ptsz},
  {"cuCtxSynchronize", 2000, 0, (void *)cuCtxSynchronize},
  {"cuGraphCreate", 10000, 0, (void *)cuGraphCreate},
  {"cuGraphDestroy", 10000, 0, (void *)cuGraphDestroy},
  {"cuGraphAddMemAllocNode", 11040, 0, (void *)cuGraphAddMemAllocNode},
  {"cuGraphAddMemFreeNode", 11040, 0, (void *)cuGraphAddMemFreeNode},
  {"cuGraphGetNodes", 10000, 0, (void *)cuGraphGetNodes},
  {"cuGraphNodeGetType", 10000, 0, (void *)cuGraphNodeGetType},
  {"cuGraphMemAllocNodeGetParams", 11040, 0, (void *)cuGraphMemAllocNodeGetParams},
  {"cuGraphInstantiate", 11000, 0, (void *)cuGraphInstantiate_v2},
  {"cuGraphInstantiate", 12000, 0, (void *)cuGraphInstantiateWithFlags},
  {"cuGraphInstantiateWithFlags", 11040, 0, (void *)cuGraphInstantiateWithFlags},
  {"cuGraphInstantiateWithParams", 12000, 0, (void *)cuGraphInstantiateWithParams},
  {"cuGraphInstantiateWithParams", 12000, 1, (void *)cuGraphInstantiateWithParams_ptsz},
  {"cuGraphLaunch", 10000, 0, (void *)cuGraphLaunch},
  {"cuGraphLaunch", 10000, 1, (void *)cuGraphLaunch_ptsz},
  {"cuGraphExecDestroy", 10000, 0, (void *)cuGraphExecDestroy},
  {"cuDeviceGraphMemTrim", 11040, 0, (void *)cuDeviceGraphMemTrim},
  {"cuDeviceGetGraphMemAttribute", 11040, 0, (void *)cuDeviceGetGraphMemAttribute},
};

void *fake_async_proc(const char *symbol, int cudaVersion, cuuint64_t flags, int *known)
{
  void *plain = NULL, *ptsz = NULL;
  for (size_t i = 0; i < sizeof entries / sizeof *entries; i++) {
    if (strcmp(entries[i].base, symbol) != 0) continue;
    *known = 1;
    if (entries[i].min_version > cudaVersion) continue;
    if (entries[i].ptsz) ptsz = entries[i].fn;
    else plain = entries[i].fn; /* later rows win */
  }
  return flags == CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM && ptsz ? ptsz : plain;
}
