/* Graph memory nodes: their memory comes from the device's graph pool when a graph is launched,
 * and stays mapped until cuDeviceGraphMemTrim; charged by that pool's reserved size. */
#include <pthread.h>
#include <stdlib.h>

#include "../format/config.h"
#include "budget.h"
#include "charge.h"
#include "driver_fns.h"
#include "export.h"
#include "memory_async.h"
#include "symbols.h"

#define BUCKETS 256
#define MAX_DEPTH 8 /* child graphs nested deeper are not measured */
#define SEVERAL (-2)

/* An executable graph, measured at instantiation: the sum of its allocation nodes (each rounded
 * to the granule) and their device. */
struct exec_rec {
  CUgraphExec exec;
  uint64_t bytes;
  int dev;               /* SEVERAL: nodes on more than one device */
  uint64_t devmask;      /* devices of its nodes */
  uint64_t mapped_epoch; /* trim epoch + 1 of its last launch: its memory is still mapped */
  struct exec_rec *next;
};

/* One lock for all of it: launches of graphs with memory nodes are serialized per process, so
 * each re-read of the graph pool settles exactly the launches before it. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct exec_rec *buckets[BUCKETS];
static struct async_charge charge[GPUMEM_MAX_GPUS];
static uint64_t epoch[GPUMEM_MAX_GPUS]; /* cuDeviceGraphMemTrim calls seen per device */

static struct exec_rec **slot_of(CUgraphExec exec)
{
  struct exec_rec **p = &buckets[((uintptr_t)exec >> 4) % BUCKETS];
  while (*p && (*p)->exec != exec) p = &(*p)->next;
  return p;
}

/* Adds the allocation nodes of graph (and of its child graphs) to *bytes, *dev, *mask. */
static void measure(CUgraph graph, uint64_t *bytes, int *dev, uint64_t *mask, int depth)
{
  cuGraphGetNodes_fn get = (cuGraphGetNodes_fn)driver_fn(DRV_cuGraphGetNodes);
  cuGraphNodeGetType_fn type_of = (cuGraphNodeGetType_fn)driver_fn(DRV_cuGraphNodeGetType);
  cuGraphMemAllocNodeGetParams_fn params_of =
    (cuGraphMemAllocNodeGetParams_fn)driver_fn(DRV_cuGraphMemAllocNodeGetParams);
  cuGraphChildGraphNodeGetGraph_fn child_of =
    (cuGraphChildGraphNodeGetGraph_fn)driver_fn(DRV_cuGraphChildGraphNodeGetGraph);
  size_t n = 0;
  if (!get || !type_of || !params_of || get(graph, NULL, &n) != CUDA_SUCCESS || n == 0) return;
  CUgraphNode *nodes = malloc(n * sizeof *nodes);
  if (!nodes) return;
  if (get(graph, nodes, &n) == CUDA_SUCCESS) {
    for (size_t i = 0; i < n; i++) {
      CUgraphNodeType t;
      CUDA_MEM_ALLOC_NODE_PARAMS p;
      CUgraph child;
      if (type_of(nodes[i], &t) != CUDA_SUCCESS) continue;
      if (t == CU_GRAPH_NODE_TYPE_MEM_ALLOC && params_of(nodes[i], &p) == CUDA_SUCCESS) {
        int d = p.poolProps.location.type == CU_MEM_LOCATION_TYPE_DEVICE ? p.poolProps.location.id
                                                                         : -1;
        if (d < 0 || d >= GPUMEM_MAX_GPUS) continue;
        *bytes += async_round(p.bytesize);
        *dev = *dev == -1 || *dev == d ? d : SEVERAL;
        *mask |= 1ULL << d;
      } else if (t == CU_GRAPH_NODE_TYPE_GRAPH && depth < MAX_DEPTH && child_of &&
                 child_of(nodes[i], &child) == CUDA_SUCCESS) {
        measure(child, bytes, dev, mask, depth + 1);
      }
    }
  }
  free(nodes);
}

static void record(CUgraphExec exec, CUgraph graph)
{
  struct exec_rec r = {exec, 0, -1, 0, 0, NULL};
  measure(graph, &r.bytes, &r.dev, &r.devmask, 0);
  pthread_mutex_lock(&lock);
  struct exec_rec **p = slot_of(exec);
  if (!*p && (*p = malloc(sizeof **p))) **p = r; /* out of memory: launched uncharged-ahead */
  else if (*p) { r.next = (*p)->next; **p = r; }  /* a handle the driver reuses */
  pthread_mutex_unlock(&lock);
}

static uint64_t graph_reserved(int dev, uint64_t otherwise)
{
  cuDeviceGetGraphMemAttribute_fn f =
    (cuDeviceGetGraphMemAttribute_fn)driver_fn(DRV_cuDeviceGetGraphMemAttribute);
  cuuint64_t v;
  return f && f(dev, CU_GRAPH_MEM_ATTR_RESERVED_MEM_CURRENT, &v) == CUDA_SUCCESS ? v : otherwise;
}

/* Trims dev's graph pool and sets its charge to what is left; lock held. */
static void trim_locked(int dev)
{
  cuDeviceGraphMemTrim_fn trim = (cuDeviceGraphMemTrim_fn)symbols_real(SYM_cuDeviceGraphMemTrim);
  if (trim && trim(dev) == CUDA_SUCCESS) epoch[dev]++;
  async_settle(&charge[dev], dev, 0, graph_reserved(dev, charge[dev].charged), 0);
}

static CUresult launch(int ptsz, CUgraphExec exec, CUstream stream)
{
  cuGraphLaunch_fn real =
    (cuGraphLaunch_fn)symbols_real(ptsz ? SYM_cuGraphLaunch_ptsz : SYM_cuGraphLaunch);
  if (!real) return CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND;
  enum budget_mode m = budget_mode();
  if (m == BUDGET_OFF) return real(exec, stream);
  pthread_mutex_lock(&lock);
  struct exec_rec *r = *slot_of(exec);
  CUdevice dev;
  if (!r && m == BUDGET_ENFORCE && async_stream_device(stream, &dev) == 0) {
    /* Not seen at instantiation: whatever it maps is charged after the launch. */
    CUresult rc = real(exec, stream);
    async_settle(&charge[dev], dev, 0, graph_reserved(dev, charge[dev].charged), 0);
    pthread_mutex_unlock(&lock);
    return rc;
  }
  if (!r || r->bytes == 0) { /* no memory nodes */
    pthread_mutex_unlock(&lock);
    return real(exec, stream);
  }
  dev = r->dev;
  if (m == BUDGET_CLOSED || (dev == -1 && async_stream_device(stream, &dev))) {
    pthread_mutex_unlock(&lock);
    return CUDA_ERROR_OUT_OF_MEMORY;
  }
  uint64_t pending = 0;
  /* Until the next trim a relaunch reuses the memory mapped by the previous launch. */
  if (dev >= 0 && r->mapped_epoch != epoch[dev] + 1) {
    /* Graphs that are not running give their memory back at a trim; then try once more. */
    if (budget_reserve(dev, r->bytes) != 0) {
      trim_locked(dev);
      if (budget_reserve(dev, r->bytes) != 0) {
        pthread_mutex_unlock(&lock);
        return charge_refused(dev);
      }
    }
    pending = r->bytes;
  }
  CUresult rc = real(exec, stream);
  /* A launch cannot be undone: whatever the pool took beyond the reservation is charged. */
  if (dev >= 0) {
    async_settle(&charge[dev], dev, pending, graph_reserved(dev, charge[dev].charged + pending), 0);
  } else { /* SEVERAL devices: charged after the launch only */
    for (int d = 0; d < GPUMEM_MAX_GPUS; d++)
      if (r->devmask & (1ULL << d))
        async_settle(&charge[d], d, 0, graph_reserved(d, charge[d].charged), 0);
  }
  if (rc == CUDA_SUCCESS && dev >= 0) r->mapped_epoch = epoch[dev] + 1;
  pthread_mutex_unlock(&lock);
  return rc;
}

GPUMEM_EXPORT CUresult cuGraphInstantiate_v2(CUgraphExec *phGraphExec, CUgraph hGraph,
                                             CUgraphNode *phErrorNode, char *logBuffer,
                                             size_t bufferSize)
{
  cuGraphInstantiate_v2_fn real =
    (cuGraphInstantiate_v2_fn)symbols_real(SYM_cuGraphInstantiate_v2);
  if (!real) return CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND;
  CUresult rc = real(phGraphExec, hGraph, phErrorNode, logBuffer, bufferSize);
  if (rc == CUDA_SUCCESS && budget_mode() != BUDGET_OFF) record(*phGraphExec, hGraph);
  return rc;
}

/* Two rows (base cuGraphInstantiate from 12000, and cuGraphInstantiateWithFlags) name it. */
GPUMEM_EXPORT CUresult cuGraphInstantiateWithFlags(CUgraphExec *phGraphExec, CUgraph hGraph,
                                                   unsigned long long flags)
{
  void *p = symbols_real(SYM_cuGraphInstantiateWithFlags);
  if (!p) p = symbols_real(SYM_cuGraphInstantiate_12000);
  if (!p) return CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND;
  CUresult rc = ((cuGraphInstantiateWithFlags_fn)p)(phGraphExec, hGraph, flags);
  if (rc == CUDA_SUCCESS && budget_mode() != BUDGET_OFF) record(*phGraphExec, hGraph);
  return rc;
}

static CUresult instantiate_params(int ptsz, CUgraphExec *phGraphExec, CUgraph hGraph,
                                   CUDA_GRAPH_INSTANTIATE_PARAMS *params)
{
  cuGraphInstantiateWithParams_fn real = (cuGraphInstantiateWithParams_fn)symbols_real(
    ptsz ? SYM_cuGraphInstantiateWithParams_ptsz : SYM_cuGraphInstantiateWithParams);
  if (!real) return CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND;
  CUresult rc = real(phGraphExec, hGraph, params);
  if (rc == CUDA_SUCCESS && budget_mode() != BUDGET_OFF) record(*phGraphExec, hGraph);
  return rc;
}

GPUMEM_EXPORT CUresult cuGraphInstantiateWithParams(CUgraphExec *phGraphExec, CUgraph hGraph,
                                                    CUDA_GRAPH_INSTANTIATE_PARAMS *params)
{
  return instantiate_params(0, phGraphExec, hGraph, params);
}

GPUMEM_EXPORT CUresult cuGraphInstantiateWithParams_ptsz(CUgraphExec *phGraphExec, CUgraph hGraph,
                                                         CUDA_GRAPH_INSTANTIATE_PARAMS *params)
{
  return instantiate_params(1, phGraphExec, hGraph, params);
}

GPUMEM_EXPORT CUresult cuGraphLaunch(CUgraphExec hGraphExec, CUstream hStream)
{
  return launch(0, hGraphExec, hStream);
}

GPUMEM_EXPORT CUresult cuGraphLaunch_ptsz(CUgraphExec hGraphExec, CUstream hStream)
{
  return launch(1, hGraphExec, hStream);
}

/* The graph pool keeps the memory of a destroyed graph until a trim: only the record goes. */
GPUMEM_EXPORT CUresult cuGraphExecDestroy(CUgraphExec hGraphExec)
{
  cuGraphExecDestroy_fn real = (cuGraphExecDestroy_fn)symbols_real(SYM_cuGraphExecDestroy);
  if (!real) return CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND;
  CUresult rc = real(hGraphExec);
  if (rc == CUDA_SUCCESS) {
    pthread_mutex_lock(&lock);
    struct exec_rec **p = slot_of(hGraphExec), *r = *p;
    if (r) {
      *p = r->next;
      free(r);
    }
    pthread_mutex_unlock(&lock);
  }
  return rc;
}

GPUMEM_EXPORT CUresult cuDeviceGraphMemTrim(CUdevice device)
{
  cuDeviceGraphMemTrim_fn real = (cuDeviceGraphMemTrim_fn)symbols_real(SYM_cuDeviceGraphMemTrim);
  if (!real) return CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND;
  if (budget_mode() != BUDGET_ENFORCE || device < 0 || device >= GPUMEM_MAX_GPUS)
    return real(device);
  pthread_mutex_lock(&lock);
  CUresult rc = real(device);
  if (rc == CUDA_SUCCESS) epoch[device]++;
  async_settle(&charge[device], device, 0, graph_reserved(device, charge[device].charged), 0);
  pthread_mutex_unlock(&lock);
  return rc;
}
