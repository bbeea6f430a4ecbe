/* The few CUDA driver API types and constants gpumem uses, declared here so no CUDA toolkit is needed. */
#ifndef GPUMEM_CUDA_H
#define GPUMEM_CUDA_H

#include <stddef.h>
#include <stdint.h>

/* The driver ABI is stable: these match cuda.h on every 64-bit platform. */
typedef int CUresult;
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;
typedef struct CUctx_st *CUcontext;
typedef uint64_t cuuint64_t;
typedef int CUdriverProcAddressQueryResult;

#define CUDA_SUCCESS 0
#define CUDA_ERROR_INVALID_VALUE 1
#define CUDA_ERROR_OUT_OF_MEMORY 2
#define CUDA_ERROR_NOT_INITIALIZED 3
#define CUDA_ERROR_NO_DEVICE 100
#define CUDA_ERROR_INVALID_DEVICE 101
#define CUDA_ERROR_INVALID_CONTEXT 201
#define CUDA_ERROR_NOT_FOUND 500

#define CU_GET_PROC_ADDRESS_DEFAULT 0
#define CU_GET_PROC_ADDRESS_LEGACY_STREAM 1
#define CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM 2

#define CU_GET_PROC_ADDRESS_SUCCESS 0
#define CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND 1
#define CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT 2

typedef CUresult (*cuMemAlloc_v2_fn)(CUdeviceptr *dptr, size_t bytesize);
typedef CUresult (*cuMemFree_v2_fn)(CUdeviceptr dptr);
typedef CUresult (*cuMemGetInfo_v2_fn)(size_t *free, size_t *total);
typedef CUresult (*cuDeviceTotalMem_v2_fn)(size_t *bytes, CUdevice dev);
typedef CUresult (*cuCtxGetDevice_fn)(CUdevice *dev);
typedef CUresult (*cuGetProcAddress_fn)(const char *symbol, void **pfn, int cudaVersion,
                                        cuuint64_t flags);
typedef CUresult (*cuGetProcAddress_v2_fn)(const char *symbol, void **pfn, int cudaVersion,
                                           cuuint64_t flags,
                                           CUdriverProcAddressQueryResult *symbolStatus);

/* pitch, managed, VMM, arrays (values and layouts as in the toolkit's cuda.h) */
typedef int CUdevice_attribute;
#define CU_DEVICE_ATTRIBUTE_TEXTURE_PITCH_ALIGNMENT 51

#define CU_MEM_ATTACH_GLOBAL 0x1
#define CU_MEM_ATTACH_HOST 0x2

typedef unsigned long long CUmemGenericAllocationHandle;
#define CU_MEM_ALLOCATION_TYPE_PINNED 0x1
#define CU_MEM_LOCATION_TYPE_DEVICE 0x1
#define CU_MEM_LOCATION_TYPE_HOST 0x2
#define CU_MEM_LOCATION_TYPE_HOST_NUMA 0x3
#define CU_MEM_LOCATION_TYPE_HOST_NUMA_CURRENT 0x4
#define CU_MEM_ALLOC_GRANULARITY_MINIMUM 0x0
#define CU_MEM_ALLOC_GRANULARITY_RECOMMENDED 0x1
typedef struct {
  int type; /* CUmemLocationType */
  int id;   /* a device ordinal when type is CU_MEM_LOCATION_TYPE_DEVICE */
} CUmemLocation;
typedef struct {
  int type;                 /* CUmemAllocationType */
  int requestedHandleTypes; /* CUmemAllocationHandleType */
  CUmemLocation location;
  void *win32HandleMetaData;
  struct {
    unsigned char compressionType;
    unsigned char gpuDirectRDMACapable;
    unsigned short usage;
    unsigned char reserved[4];
  } allocFlags;
} CUmemAllocationProp;

typedef struct CUarray_st *CUarray;
typedef struct CUmipmappedArray_st *CUmipmappedArray;
typedef int CUarray_format;
#define CU_AD_FORMAT_UNSIGNED_INT8 0x01
#define CU_AD_FORMAT_UNSIGNED_INT16 0x02
#define CU_AD_FORMAT_UNSIGNED_INT32 0x03
#define CU_AD_FORMAT_SIGNED_INT8 0x08
#define CU_AD_FORMAT_SIGNED_INT16 0x09
#define CU_AD_FORMAT_SIGNED_INT32 0x0a
#define CU_AD_FORMAT_HALF 0x10
#define CU_AD_FORMAT_FLOAT 0x20
#define CUDA_ARRAY3D_LAYERED 0x01
#define CUDA_ARRAY3D_CUBEMAP 0x04
#define CUDA_ARRAY3D_SPARSE 0x40
#define CUDA_ARRAY3D_DEFERRED_MAPPING 0x80
typedef struct {
  size_t Width;
  size_t Height;
  CUarray_format Format;
  unsigned int NumChannels;
} CUDA_ARRAY_DESCRIPTOR;
typedef struct {
  size_t Width;
  size_t Height;
  size_t Depth;
  CUarray_format Format;
  unsigned int NumChannels;
  unsigned int Flags;
} CUDA_ARRAY3D_DESCRIPTOR;
typedef struct {
  size_t size;
  size_t alignment;
  unsigned int reserved[4];
} CUDA_ARRAY_MEMORY_REQUIREMENTS;

typedef CUresult (*cuDeviceGetAttribute_fn)(int *pi, CUdevice_attribute attrib, CUdevice dev);
typedef CUresult (*cuMemAllocPitch_v2_fn)(CUdeviceptr *dptr, size_t *pPitch, size_t WidthInBytes,
                                          size_t Height, unsigned int ElementSizeBytes);
typedef CUresult (*cuMemAllocManaged_fn)(CUdeviceptr *dptr, size_t bytesize, unsigned int flags);
typedef CUresult (*cuMemCreate_fn)(CUmemGenericAllocationHandle *handle, size_t size,
                                   const CUmemAllocationProp *prop, unsigned long long flags);
typedef CUresult (*cuMemRelease_fn)(CUmemGenericAllocationHandle handle);
typedef CUresult (*cuMemMap_fn)(CUdeviceptr ptr, size_t size, size_t offset,
                                CUmemGenericAllocationHandle handle, unsigned long long flags);
typedef CUresult (*cuMemUnmap_fn)(CUdeviceptr ptr, size_t size);
typedef CUresult (*cuMemRetainAllocationHandle_fn)(CUmemGenericAllocationHandle *handle, void *addr);
typedef CUresult (*cuMemAddressReserve_fn)(CUdeviceptr *ptr, size_t size, size_t alignment,
                                           CUdeviceptr addr, unsigned long long flags);
typedef CUresult (*cuMemAddressFree_fn)(CUdeviceptr ptr, size_t size);
typedef CUresult (*cuMemGetAllocationGranularity_fn)(size_t *granularity,
                                                     const CUmemAllocationProp *prop, int option);
typedef CUresult (*cuArrayCreate_v2_fn)(CUarray *pHandle, const CUDA_ARRAY_DESCRIPTOR *desc);
typedef CUresult (*cuArray3DCreate_v2_fn)(CUarray *pHandle, const CUDA_ARRAY3D_DESCRIPTOR *desc);
typedef CUresult (*cuArrayDestroy_fn)(CUarray hArray);
typedef CUresult (*cuMipmappedArrayCreate_fn)(CUmipmappedArray *pHandle,
                                              const CUDA_ARRAY3D_DESCRIPTOR *desc,
                                              unsigned int numMipmapLevels);
typedef CUresult (*cuMipmappedArrayDestroy_fn)(CUmipmappedArray hMipmappedArray);
typedef CUresult (*cuArrayGetMemoryRequirements_fn)(CUDA_ARRAY_MEMORY_REQUIREMENTS *req,
                                                    CUarray array, CUdevice device);
typedef CUresult (*cuMipmappedArrayGetMemoryRequirements_fn)(CUDA_ARRAY_MEMORY_REQUIREMENTS *req,
                                                             CUmipmappedArray mipmap,
                                                             CUdevice device);

/* contexts (values and layouts as in the toolkit's cuda.h) */
typedef struct {
  char bytes[16];
} CUuuid;
typedef struct CUexecAffinityParam_st CUexecAffinityParam; /* only passed through */
typedef struct CUctxCreateParams_st CUctxCreateParams;     /* only passed through */
typedef CUresult (*cuDevicePrimaryCtxRetain_fn)(CUcontext *pctx, CUdevice dev);
typedef CUresult (*cuDevicePrimaryCtxRelease_v2_fn)(CUdevice dev);
typedef CUresult (*cuDevicePrimaryCtxReset_v2_fn)(CUdevice dev);
typedef CUresult (*cuDevicePrimaryCtxGetState_fn)(CUdevice dev, unsigned int *flags, int *active);
typedef CUresult (*cuCtxCreate_v2_fn)(CUcontext *pctx, unsigned int flags, CUdevice dev);
typedef CUresult (*cuCtxCreate_v3_fn)(CUcontext *pctx, CUexecAffinityParam *paramsArray,
                                      int numParams, unsigned int flags, CUdevice dev);
typedef CUresult (*cuCtxCreate_v4_fn)(CUcontext *pctx, CUctxCreateParams *ctxCreateParams,
                                      unsigned int flags, CUdevice dev);
typedef CUresult (*cuCtxDestroy_v2_fn)(CUcontext ctx);
typedef CUresult (*cuCtxPushCurrent_v2_fn)(CUcontext ctx);
typedef CUresult (*cuCtxPopCurrent_v2_fn)(CUcontext *pctx);
typedef CUresult (*cuCtxGetCurrent_fn)(CUcontext *pctx);
typedef CUresult (*cuDeviceGetUuid_fn)(CUuuid *uuid, CUdevice dev);

/* stream-ordered (values and layouts as in the toolkit's cuda.h) */
typedef struct CUstream_st *CUstream;
typedef struct CUmemPoolHandle_st *CUmemoryPool;
typedef struct CUgraph_st *CUgraph;
typedef struct CUgraphNode_st *CUgraphNode;
typedef struct CUgraphExec_st *CUgraphExec;
typedef int CUmemPool_attribute;
#define CU_MEMPOOL_ATTR_RELEASE_THRESHOLD 4    /* cuuint64_t */
#define CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT 5 /* cuuint64_t */
#define CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH 6
#define CU_MEMPOOL_ATTR_USED_MEM_CURRENT 7
#define CU_MEMPOOL_ATTR_USED_MEM_HIGH 8
typedef int CUgraphMem_attribute;
#define CU_GRAPH_MEM_ATTR_USED_MEM_CURRENT 0
#define CU_GRAPH_MEM_ATTR_USED_MEM_HIGH 1
#define CU_GRAPH_MEM_ATTR_RESERVED_MEM_CURRENT 2
#define CU_GRAPH_MEM_ATTR_RESERVED_MEM_HIGH 3
typedef int CUgraphNodeType;
#define CU_GRAPH_NODE_TYPE_GRAPH 4
#define CU_GRAPH_NODE_TYPE_MEM_ALLOC 10
#define CU_GRAPH_NODE_TYPE_MEM_FREE 11
#define CU_STREAM_CAPTURE_STATUS_NONE 0
typedef struct {
  int allocType;   /* CUmemAllocationType */
  int handleTypes; /* CUmemAllocationHandleType */
  CUmemLocation location;
  void *win32SecurityAttributes;
  size_t maxSize;
  unsigned short usage;
  unsigned char reserved[54];
} CUmemPoolProps; /* 88 bytes */
typedef struct {
  CUmemLocation location;
  int flags; /* CUmemAccess_flags */
} CUmemAccessDesc;
typedef struct {
  CUmemPoolProps poolProps;
  const CUmemAccessDesc *accessDescs;
  size_t accessDescCount;
  size_t bytesize;
  CUdeviceptr dptr; /* out */
} CUDA_MEM_ALLOC_NODE_PARAMS;
typedef struct {
  cuuint64_t flags;
  CUstream hUploadStream;
  CUgraphNode hErrNode_out;
  int result_out; /* CUgraphInstantiateResult */
} CUDA_GRAPH_INSTANTIATE_PARAMS;

typedef CUresult (*cuMemAllocAsync_fn)(CUdeviceptr *dptr, size_t bytesize, CUstream hStream);
typedef CUresult (*cuMemFreeAsync_fn)(CUdeviceptr dptr, CUstream hStream);
typedef CUresult (*cuMemAllocFromPoolAsync_fn)(CUdeviceptr *dptr, size_t bytesize,
                                               CUmemoryPool pool, CUstream hStream);
typedef CUresult (*cuMemPoolCreate_fn)(CUmemoryPool *pool, const CUmemPoolProps *props);
typedef CUresult (*cuMemPoolDestroy_fn)(CUmemoryPool pool);
typedef CUresult (*cuMemPoolTrimTo_fn)(CUmemoryPool pool, size_t minBytesToKeep);
typedef CUresult (*cuMemPoolGetAttribute_fn)(CUmemoryPool pool, CUmemPool_attribute attr,
                                             void *value);
typedef CUresult (*cuDeviceGetMemPool_fn)(CUmemoryPool *pool, CUdevice dev);
typedef CUresult (*cuStreamSynchronize_fn)(CUstream hStream);
typedef CUresult (*cuStreamIsCapturing_fn)(CUstream hStream, int *captureStatus);
typedef CUresult (*cuStreamGetDevice_fn)(CUstream hStream, CUdevice *device);
typedef CUresult (*cuGraphInstantiate_v2_fn)(CUgraphExec *phGraphExec, CUgraph hGraph,
                                             CUgraphNode *phErrorNode, char *logBuffer,
                                             size_t bufferSize);
typedef CUresult (*cuGraphInstantiateWithFlags_fn)(CUgraphExec *phGraphExec, CUgraph hGraph,
                                                   unsigned long long flags);
typedef CUresult (*cuGraphInstantiateWithParams_fn)(CUgraphExec *phGraphExec, CUgraph hGraph,
                                                    CUDA_GRAPH_INSTANTIATE_PARAMS *params);
typedef CUresult (*cuGraphLaunch_fn)(CUgraphExec hGraphExec, CUstream hStream);
typedef CUresult (*cuGraphExecDestroy_fn)(CUgraphExec hGraphExec);
typedef CUresult (*cuGraphGetNodes_fn)(CUgraph hGraph, CUgraphNode *nodes, size_t *numNodes);
typedef CUresult (*cuGraphNodeGetType_fn)(CUgraphNode hNode, CUgraphNodeType *type);
typedef CUresult (*cuGraphMemAllocNodeGetParams_fn)(CUgraphNode hNode,
                                                    CUDA_MEM_ALLOC_NODE_PARAMS *params_out);
typedef CUresult (*cuGraphChildGraphNodeGetGraph_fn)(CUgraphNode hNode, CUgraph *phGraph);
typedef CUresult (*cuDeviceGetGraphMemAttribute_fn)(CUdevice device, CUgraphMem_attribute attr,
                                                    void *value);
typedef CUresult (*cuDeviceGraphMemTrim_fn)(CUdevice device);

/* driver-taken memory: code, local memory, limits (values and layouts as in cuda.h) */
typedef struct CUmod_st *CUmodule;
typedef struct CUfunc_st *CUfunction;
typedef struct CUlib_st *CUlibrary;
typedef struct CUkern_st *CUkernel;
typedef int CUjit_option;
typedef int CUlibraryOption;
typedef int CUfunction_attribute;
typedef int CUlimit;
#define CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES 3
#define CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT 16
#define CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR 39
#define CU_LIMIT_STACK_SIZE 0
#define CU_LIMIT_PRINTF_FIFO_SIZE 1
#define CU_LIMIT_MALLOC_HEAP_SIZE 2
typedef struct CUlaunchConfig_st CUlaunchConfig; /* only passed through */

#endif
