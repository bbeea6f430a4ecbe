/* A fake libcuda.so.1 that behaves like the real driver on the calls gpumem and its tests make,
 * with fake device memory: addresses are handed out, nothing is allocated.
 *
 * FAKE_CUDA_DEVICE_MEM: size of each device (size grammar, default 16g).
 * FAKE_NVML_DEVICE_MEMS: a size per device, comma-separated ("24g,40g"), the fake NVML's
 *   variable: when set, device u's size is its u-th entry (FAKE_CUDA_DEVICE_MEM for a missing or
 *   bad one), so the host's NVML and the driver agree; it also gives the count when
 *   FAKE_CUDA_DEVICE_COUNT is unset.
 * FAKE_CUDA_DEVICE_COUNT: number of devices on the fake host (default 1, at most 64).
 * CUDA_VISIBLE_DEVICES: as the real driver reads it: unset, every device in host order; else a
 *   comma-separated list of host device numbers and/or UUIDs (`GPU-...`, any unambiguous
 *   prefix of one, as CUDA accepts), spaces around an entry ignored, order kept: ordinal d is the
 *   d-th entry. The list ends at the first entry that names no device or one already listed;
 *   empty = no devices. A device's UUID (cuDeviceGetUuid), size and memory are those of the host
 *   device it is, also in FAKE_CUDA_SHARED's file, which is kept by host device.
 * FAKE_CUDA_PROC_NULL: a base name for which cuGetProcAddress succeeds with a NULL pointer, as
 * the real driver may. Accounting is per process, as a real device's is per context.
 *
 * The hooks exported for the fake NVML and the tests (fake_cuda_memory, fake_cuda_peak, ...) take
 * a host device number, as NVML numbers devices, not a CUDA ordinal. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../src/common/cuda_api.h"
#include "../src/format/size.h"
#include "fake_cuda_context.h"
#include "fake_list.h"
#include "fake_cuda_families.h" /* pitch, managed, VMM, arrays */
#include "fake_cuda_async.h"    /* stream-ordered */

#define MAX_DEVICES 64
#define ADDRESS_BASE 0x700000000000ULL
#define ADDRESS_SPAN 0x100000000000ULL /* 16 TiB of fake address space per device (never reused) */

struct CUctx_st {
  CUdevice dev;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int initialized, device_count, host_count;
/* host[d]: the host device that ordinal d is. Everything below is kept by host device. */
static int host[MAX_DEVICES];
static uint64_t device_mem[MAX_DEVICES];
static uint64_t used[MAX_DEVICES], next_offset[MAX_DEVICES];
static struct CUctx_st primary[MAX_DEVICES];
static __thread CUcontext current;

struct allocation {
  CUdeviceptr ptr;
  uint64_t size;
  CUdevice dev;
  int managed; /* NVML's per-process figure leaves managed memory out, as the real one does */
};
static uint64_t managed_used[MAX_DEVICES];
static uint64_t peak[MAX_DEVICES]; /* the most this process's fake device ever held */
#define NOTE_PEAK(dev) (used[dev] > peak[dev] ? (void)(peak[dev] = used[dev]) : (void)0)
/* What NVML's per-process figure counts of dev's use. */
#define NVML_USED(dev) (used[dev] > managed_used[dev] ? used[dev] - managed_used[dev] : 0)
static struct allocation *allocs;
static size_t nallocs, allocs_cap;

static void uuid_text(int u, char out[41])
{
  unsigned char b[16];
  fake_gpu_uuid(u, b);
  snprintf(out, 41, "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
           b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
           b[14], b[15]);
}

/* The host device one CUDA_VISIBLE_DEVICES entry names (len characters, spaces trimmed), or -1:
 * a decimal number below the host's count, or a prefix of exactly one device's UUID. */
static int named_device(const char *e, size_t len)
{
  while (len && *e == ' ') e++, len--;
  while (len && e[len - 1] == ' ') len--;
  if (len == 0) return -1;
  if (e[0] >= '0' && e[0] <= '9') {
    long v = 0;
    for (size_t i = 0; i < len; i++) {
      if (e[i] < '0' || e[i] > '9' || v > MAX_DEVICES) return -1;
      v = v * 10 + (e[i] - '0');
    }
    return v < host_count ? (int)v : -1;
  }
  if (len < 5 || strncmp(e, "GPU-", 4) != 0) return -1;
  int found = -1;
  for (int u = 0; u < host_count; u++) {
    char t[41];
    uuid_text(u, t);
    if (len <= strlen(t) && strncasecmp(t, e, len) == 0) {
      if (found >= 0) return -1; /* ambiguous */
      found = u;
    }
  }
  return found;
}

/* Ordinals from CUDA_VISIBLE_DEVICES, as the driver reads it once at cuInit. */
static void read_visible(void)
{
  const char *v = getenv("CUDA_VISIBLE_DEVICES");
  device_count = 0;
  if (!v) {
    for (int u = 0; u < host_count; u++) host[device_count++] = u;
    return;
  }
  while (*v && device_count < MAX_DEVICES) {
    size_t len = strcspn(v, ",");
    int u = named_device(v, len);
    for (int d = 0; d < device_count && u >= 0; d++)
      if (host[d] == u) u = -1; /* listed twice: the list ends */
    if (u < 0) break;
    host[device_count++] = u;
    if (!v[len]) break;
    v += len + 1;
  }
}

CUresult cuInit(unsigned int flags)
{
  if (flags != 0) return CUDA_ERROR_INVALID_VALUE;
  pthread_mutex_lock(&lock);
  if (!initialized) {
    uint64_t each;
    const char *mem = getenv("FAKE_CUDA_DEVICE_MEM");
    if (!mem || gpumem_size_parse(mem, &each, NULL, 0)) each = 16ULL << 30;
    const char *count = getenv("FAKE_CUDA_DEVICE_COUNT");
    host_count = count ? atoi(count) : getenv("FAKE_NVML_DEVICE_MEMS") ? (int)fake_list_count("FAKE_NVML_DEVICE_MEMS") : 1;
    if (host_count < 0) host_count = 0;
    if (host_count > MAX_DEVICES) host_count = MAX_DEVICES;
    for (int u = 0; u < MAX_DEVICES; u++)
      if (!fake_listed_size((unsigned int)u, &device_mem[u])) device_mem[u] = each;
    read_visible();
    for (int i = 0; i < MAX_DEVICES; i++) primary[i].dev = i;
    initialized = 1;
  }
  pthread_mutex_unlock(&lock);
  return device_count ? CUDA_SUCCESS : CUDA_ERROR_NO_DEVICE;
}

static CUresult check_device(CUdevice dev)
{
  if (!initialized) return CUDA_ERROR_NOT_INITIALIZED;
  return dev >= 0 && dev < device_count ? CUDA_SUCCESS : CUDA_ERROR_INVALID_DEVICE;
}

/* A host device number from the fake NVML or a test: initialized and on the host. */
static CUresult check_host_device(int u)
{
  if (!initialized) return CUDA_ERROR_NOT_INITIALIZED;
  return u >= 0 && u < host_count ? CUDA_SUCCESS : CUDA_ERROR_INVALID_DEVICE;
}

int fake_host_device(CUdevice dev) { return host[dev]; }

CUresult cuDriverGetVersion(int *version)
{
  if (!version) return CUDA_ERROR_INVALID_VALUE;
  *version = 13000;
  return CUDA_SUCCESS;
}

CUresult cuDeviceGetCount(int *count)
{
  if (!initialized) return CUDA_ERROR_NOT_INITIALIZED;
  if (!count) return CUDA_ERROR_INVALID_VALUE;
  *count = device_count;
  return CUDA_SUCCESS;
}

CUresult cuDeviceGet(CUdevice *dev, int ordinal)
{
  CUresult rc = check_device(ordinal);
  if (rc) return rc;
  if (!dev) return CUDA_ERROR_INVALID_VALUE;
  *dev = ordinal;
  return CUDA_SUCCESS;
}

CUresult cuDeviceGetName(char *name, int len, CUdevice dev)
{
  CUresult rc = check_device(dev);
  if (rc) return rc;
  if (!name || len <= 0) return CUDA_ERROR_INVALID_VALUE;
  snprintf(name, (size_t)len, "gpumem fake GPU %d", dev);
  return CUDA_SUCCESS;
}

CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice dev)
{
  CUresult rc = check_device(dev);
  if (rc) return rc;
  if (!bytes) return CUDA_ERROR_INVALID_VALUE;
  *bytes = device_mem[host[dev]];
  return CUDA_SUCCESS;
}

/* cuDevicePrimaryCtxRetain, cuCtxCreate_v2 and the other context calls: fake_cuda_context.c */

CUresult cuCtxSetCurrent(CUcontext ctx)
{
  if (!initialized) return CUDA_ERROR_NOT_INITIALIZED;
  current = ctx;
  return CUDA_SUCCESS;
}

CUresult cuCtxGetCurrent(CUcontext *ctx)
{
  if (!initialized) return CUDA_ERROR_NOT_INITIALIZED;
  if (!ctx) return CUDA_ERROR_INVALID_VALUE;
  *ctx = current;
  return CUDA_SUCCESS;
}

CUresult cuCtxGetDevice(CUdevice *dev)
{
  if (!initialized) return CUDA_ERROR_NOT_INITIALIZED;
  if (!current) return CUDA_ERROR_INVALID_CONTEXT;
  if (!dev) return CUDA_ERROR_INVALID_VALUE;
  *dev = current->dev;
  return CUDA_SUCCESS;
}

static CUresult allocate_kind(CUdeviceptr *dptr, uint64_t bytes, int managed)
{
  if (!initialized) return CUDA_ERROR_NOT_INITIALIZED;
  if (!current) return CUDA_ERROR_INVALID_CONTEXT;
  if (!dptr || bytes == 0) return CUDA_ERROR_INVALID_VALUE;
  int dev = host[current->dev];
  uint64_t rounded = (bytes + 511) & ~511ULL;
  CUresult rc = CUDA_SUCCESS;
  pthread_mutex_lock(&lock);
  if (rounded > device_mem[dev] - used[dev] || next_offset[dev] + rounded > ADDRESS_SPAN) {
    rc = CUDA_ERROR_OUT_OF_MEMORY;
  } else if (nallocs == allocs_cap) {
    size_t ncap = allocs_cap ? allocs_cap * 2 : 256;
    struct allocation *n = realloc(allocs, ncap * sizeof *n);
    if (!n) rc = CUDA_ERROR_OUT_OF_MEMORY;
    else {
      allocs = n;
      allocs_cap = ncap;
    }
  }
  if (rc == CUDA_SUCCESS) {
    CUdeviceptr p = ADDRESS_BASE + (uint64_t)dev * ADDRESS_SPAN + next_offset[dev];
    next_offset[dev] += rounded;
    used[dev] += rounded;
    NOTE_PEAK(dev);
    allocs[nallocs++] = (struct allocation){p, rounded, dev, managed};
    if (managed) managed_used[dev] += rounded;
    fake_shared_note(dev, used[dev], NVML_USED(dev)); /* other processes' view */
    *dptr = p;
  }
  pthread_mutex_unlock(&lock);
  return rc;
}

static CUresult allocate(CUdeviceptr *dptr, uint64_t bytes) { return allocate_kind(dptr, bytes, 0); }

CUresult cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytesize) { return allocate(dptr, bytesize); }

/* The pre-3.2 API with 32-bit pointers and sizes, still reachable by version. */
CUresult cuMemAlloc(unsigned int *dptr, unsigned int bytesize)
{
  (void)dptr;
  (void)bytesize;
  return CUDA_ERROR_INVALID_VALUE; /* no 32-bit address space here */
}

CUresult cuMemFree_v2(CUdeviceptr dptr)
{
  if (!initialized) return CUDA_ERROR_NOT_INITIALIZED;
  if (!current) return CUDA_ERROR_INVALID_CONTEXT;
  if (dptr == 0) return CUDA_SUCCESS;
  CUresult rc = CUDA_ERROR_INVALID_VALUE;
  pthread_mutex_lock(&lock);
  for (size_t i = nallocs; i-- > 0;) {
    if (allocs[i].ptr == dptr) {
      used[allocs[i].dev] -= allocs[i].size;
      if (allocs[i].managed) managed_used[allocs[i].dev] -= allocs[i].size;
      fake_shared_note(allocs[i].dev, used[allocs[i].dev], NVML_USED(allocs[i].dev));
      allocs[i] = allocs[--nallocs];
      rc = CUDA_SUCCESS;
      break;
    }
  }
  pthread_mutex_unlock(&lock);
  return rc;
}

CUresult cuMemGetInfo_v2(size_t *free_bytes, size_t *total)
{
  if (!initialized) return CUDA_ERROR_NOT_INITIALIZED;
  if (!current) return CUDA_ERROR_INVALID_CONTEXT;
  if (!free_bytes || !total) return CUDA_ERROR_INVALID_VALUE;
  pthread_mutex_lock(&lock);
  int u = host[current->dev];
  *free_bytes = device_mem[u] - used[u];
  *total = device_mem[u];
  pthread_mutex_unlock(&lock);
  return CUDA_SUCCESS;
}

/* pitch, managed, VMM, arrays: the accounting above, for fake_cuda_families.c */
CUresult fake_check_device(CUdevice dev) { return check_device(dev); }

CUresult fake_current_device(CUdevice *dev) { return cuCtxGetDevice(dev); }

CUresult fake_allocate(CUdeviceptr *dptr, uint64_t bytes) { return allocate(dptr, bytes); }

CUresult fake_allocate_managed(CUdeviceptr *dptr, uint64_t bytes)
{
  return allocate_kind(dptr, bytes, 1);
}

/* On host device dev (ordinals are turned into one by the callers). */
static CUresult charge_host(int dev, uint64_t bytes)
{
  CUresult rc = check_host_device(dev);
  if (rc) return rc;
  pthread_mutex_lock(&lock);
  if (bytes > device_mem[dev] - used[dev]) rc = CUDA_ERROR_OUT_OF_MEMORY;
  else used[dev] += bytes;
  if (!rc) NOTE_PEAK(dev), fake_shared_note(dev, used[dev], NVML_USED(dev));
  pthread_mutex_unlock(&lock);
  return rc;
}

CUresult fake_charge(CUdevice dev, uint64_t bytes)
{
  CUresult rc = check_device(dev);
  return rc ? rc : charge_host(host[dev], bytes);
}

void fake_uncharge(CUdevice ordinal, uint64_t bytes)
{
  if (check_device(ordinal)) return;
  int dev = host[ordinal];
  pthread_mutex_lock(&lock);
  used[dev] = used[dev] >= bytes ? used[dev] - bytes : 0;
  fake_shared_note(dev, used[dev], NVML_USED(dev));
  pthread_mutex_unlock(&lock);
}

CUresult cuGetErrorName(CUresult error, const char **name)
{
  static const struct { CUresult code; const char *name; } names[] = {
    {CUDA_SUCCESS, "CUDA_SUCCESS"},
    {CUDA_ERROR_INVALID_VALUE, "CUDA_ERROR_INVALID_VALUE"},
    {CUDA_ERROR_OUT_OF_MEMORY, "CUDA_ERROR_OUT_OF_MEMORY"},
    {CUDA_ERROR_NOT_INITIALIZED, "CUDA_ERROR_NOT_INITIALIZED"},
    {CUDA_ERROR_NO_DEVICE, "CUDA_ERROR_NO_DEVICE"},
    {CUDA_ERROR_INVALID_DEVICE, "CUDA_ERROR_INVALID_DEVICE"},
    {CUDA_ERROR_INVALID_CONTEXT, "CUDA_ERROR_INVALID_CONTEXT"},
    {CUDA_ERROR_NOT_FOUND, "CUDA_ERROR_NOT_FOUND"},
  };
  if (!name) return CUDA_ERROR_INVALID_VALUE;
  for (size_t i = 0; i < sizeof names / sizeof *names; i++)
    if (names[i].code == error) {
      *name = names[i].name;
      return CUDA_SUCCESS;
    }
  *name = NULL;
  return CUDA_ERROR_INVALID_VALUE;
}


/* Base name -> versioned entry from a CUDA version on; rows of one base by ascending version. */
static const struct {
  const char *base;
  int min_version;
  void *fn;
} entries[] = {
  {"cuInit", 2000, (void *)cuInit},
  {"cuDriverGetVersion", 2020, (void *)cuDriverGetVersion},
  {"cuDeviceGetCount", 2000, (void *)cuDeviceGetCount},
  {"cuDeviceGet", 2000, (void *)cuDeviceGet},
  {"cuDeviceGetName", 2000, (void *)cuDeviceGetName},
  {"cuDeviceTotalMem", 3020, (void *)cuDeviceTotalMem_v2},
  {"cuDevicePrimaryCtxRetain", 7000, (void *)cuDevicePrimaryCtxRetain},
  {"cuCtxCreate", 3020, (void *)cuCtxCreate_v2},
  /* contexts (fake_cuda_context.c) */
  {"cuCtxCreate", 11040, (void *)cuCtxCreate_v3},
  {"cuCtxCreate", 12050, (void *)cuCtxCreate_v4},
  {"cuCtxDestroy", 4000, (void *)cuCtxDestroy_v2},
  {"cuCtxPushCurrent", 4000, (void *)cuCtxPushCurrent_v2},
  {"cuCtxPopCurrent", 4000, (void *)cuCtxPopCurrent_v2},
  {"cuDevicePrimaryCtxRelease", 11000, (void *)cuDevicePrimaryCtxRelease_v2},
  {"cuDevicePrimaryCtxReset", 11000, (void *)cuDevicePrimaryCtxReset_v2},
  {"cuDevicePrimaryCtxGetState", 7000, (void *)cuDevicePrimaryCtxGetState},
  {"cuDeviceGetUuid", 9020, (void *)cuDeviceGetUuid},
  {"cuDeviceGetUuid", 11040, (void *)cuDeviceGetUuid_v2},
  {"cuCtxSetCurrent", 4000, (void *)cuCtxSetCurrent},
  {"cuCtxGetCurrent", 4000, (void *)cuCtxGetCurrent},
  {"cuCtxGetDevice", 2000, (void *)cuCtxGetDevice},
  {"cuMemAlloc", 2000, (void *)cuMemAlloc},
  {"cuMemAlloc", 3020, (void *)cuMemAlloc_v2},
  {"cuMemFree", 3020, (void *)cuMemFree_v2},
  {"cuMemGetInfo", 3020, (void *)cuMemGetInfo_v2},
  {"cuGetErrorName", 6000, (void *)cuGetErrorName},
  /* pitch, managed, VMM, arrays */
  {"cuDeviceGetAttribute", 2000, (void *)cuDeviceGetAttribute},
  {"cuMemAllocPitch", 3020, (void *)cuMemAllocPitch_v2},
  {"cuMemAllocManaged", 6000, (void *)cuMemAllocManaged},
  {"cuMemGetAllocationGranularity", 10020, (void *)cuMemGetAllocationGranularity},
  {"cuMemCreate", 10020, (void *)cuMemCreate},
  {"cuMemRelease", 10020, (void *)cuMemRelease},
  {"cuMemAddressReserve", 10020, (void *)cuMemAddressReserve},
  {"cuMemAddressFree", 10020, (void *)cuMemAddressFree},
  {"cuMemMap", 10020, (void *)cuMemMap},
  {"cuMemUnmap", 10020, (void *)cuMemUnmap},
  {"cuMemRetainAllocationHandle", 11000, (void *)cuMemRetainAllocationHandle},
  {"cuArrayCreate", 3020, (void *)cuArrayCreate_v2},
  {"cuArray3DCreate", 3020, (void *)cuArray3DCreate_v2},
  {"cuArrayDestroy", 2000, (void *)cuArrayDestroy},
  {"cuMipmappedArrayCreate", 5000, (void *)cuMipmappedArrayCreate},
  {"cuMipmappedArrayDestroy", 5000, (void *)cuMipmappedArrayDestroy},
  {"cuArrayGetMemoryRequirements", 11060, (void *)cuArrayGetMemoryRequirements},
  {"cuMipmappedArrayGetMemoryRequirements", 11060, (void *)cuMipmappedArrayGetMemoryRequirements},
  /* code, launches, limits (fake_cuda_code.c) */
  {"cuModuleLoadData", 2000, (void *)cuModuleLoadData},
  {"cuModuleUnload", 2000, (void *)cuModuleUnload},
  {"cuModuleGetFunction", 2000, (void *)cuModuleGetFunction},
  {"cuFuncGetAttribute", 2020, (void *)cuFuncGetAttribute},
  {"cuLaunchKernel", 4000, (void *)cuLaunchKernel},
  {"cuLaunchKernelEx", 11060, (void *)cuLaunchKernelEx},
  {"cuCtxSetLimit", 3010, (void *)cuCtxSetLimit},
  {"cuCtxGetLimit", 3010, (void *)cuCtxGetLimit},
  {"cuGetProcAddress", 11030, (void *)cuGetProcAddress},
  {"cuGetProcAddress", 12000, (void *)cuGetProcAddress_v2},
};

CUresult cuGetProcAddress_v2(const char *symbol, void **pfn, int cudaVersion, cuuint64_t flags,
                             CUdriverProcAddressQueryResult *symbolStatus)
{
  if (!symbol || !pfn || flags > CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM)
    return CUDA_ERROR_INVALID_VALUE;
  *pfn = NULL;
  int known = 0;
  for (size_t i = 0; i < sizeof entries / sizeof *entries; i++) {
    if (strcmp(entries[i].base, symbol) != 0) continue;
    known = 1;
    if (entries[i].min_version <= cudaVersion) *pfn = entries[i].fn; /* later rows win */
  }
  /* stream-ordered: its own table, which also knows the flags = 2 (_ptsz) entries */
  void *async_fn = fake_async_proc(symbol, cudaVersion, flags, &known);
  if (async_fn) *pfn = async_fn;
  const char *null_for = getenv("FAKE_CUDA_PROC_NULL");
  if (known && *pfn && null_for && strcmp(null_for, symbol) == 0) *pfn = NULL;
  else if (!*pfn) {
    if (symbolStatus)
      *symbolStatus = known ? CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT
                            : CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
    return CUDA_ERROR_NOT_FOUND;
  }
  if (symbolStatus) *symbolStatus = CU_GET_PROC_ADDRESS_SUCCESS;
  return CUDA_SUCCESS;
}

CUresult cuGetProcAddress(const char *symbol, void **pfn, int cudaVersion, cuuint64_t flags)
{
  return cuGetProcAddress_v2(symbol, pfn, cudaVersion, flags, NULL);
}

/* ---- contexts and NVML: a context's own memory, and this process's view for the fake NVML ---- */

/* A context's memory has no address: fake_charge / fake_uncharge take and give it back. */

/* Exported for the fake libnvidia-ml.so.1: 0 with this process's total and used of host device
 * dev (NVML's index), whether or not CUDA_VISIBLE_DEVICES lets the process see it. */
__attribute__((visibility("default"))) int fake_cuda_memory(int dev, uint64_t *total, uint64_t *in_use)
{
  if (check_host_device(dev)) return -1;
  pthread_mutex_lock(&lock);
  *total = device_mem[dev];
  *in_use = used[dev];
  pthread_mutex_unlock(&lock);
  return 0;
}
/* For the fake NVML's process list: what this process holds on dev as NVML counts it (managed
 * memory left out), or -1 before cuInit. */
__attribute__((visibility("default"))) int fake_cuda_process_memory(int dev, uint64_t *bytes)
{
  if (check_host_device(dev)) return -1;
  pthread_mutex_lock(&lock);
  *bytes = NVML_USED(dev);
  pthread_mutex_unlock(&lock);
  return 0;
}
/* For the driver-taken tests: the most this process's fake device dev ever held. */
__attribute__((visibility("default"))) uint64_t fake_cuda_peak(int dev)
{
  if (check_host_device(dev)) return 0;
  pthread_mutex_lock(&lock);
  uint64_t p = peak[dev];
  pthread_mutex_unlock(&lock);
  return p;
}

/* The driver taking memory on its own, outside any call gpumem sees (as a real one does for
 * code and bookkeeping); 0 or CUDA_ERROR_OUT_OF_MEMORY. */
__attribute__((visibility("default"))) CUresult fake_cuda_take(int dev, uint64_t bytes)
{
  return charge_host(dev, bytes);
}
