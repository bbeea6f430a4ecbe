/* Allocates fixed-size blocks until the driver refuses, then prints one JSON line; built twice:
 * reaching the driver the way cudart 13 does (dlopen + cuGetProcAddress_v2 by base name), and
 * with -DLINKED as a program linked with -lcuda.
 *
 * usage: alloc-until-oom [--block 4m] [--max SIZE] [--hold SECONDS] [--free] [--device I]
 *        [--api malloc|pitch|managed|vmm|array|array3d|mipmapped|mix] [--width BYTES] [--host]
 *        [--levels N] [--hold-freed SECONDS] [--map]
 * --api picks the allocation family (default malloc = cuMemAlloc_v2; mix rotates through all);
 * a block is then about --block bytes: pitch and arrays use rows of --width bytes (default 1000),
 * vmm is cuMemCreate on the device (--host: on the host), mipmapped has --levels levels (4);
 * --map: each vmm block is also mapped and its handle released at once, as the CUDA samples do
 * (freed by cuMemUnmap).
 * "allocated" is what the program asked for, except pitch: pitch x height as the driver says.
 * --hold-freed: after --free, print a second line {"freed":N,...} and hold again (a second
 * SIGTERM ends it), so the charges can be looked at while the process still lives. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../src/common/cuda_api.h"
#include "../src/format/size.h"

#ifndef LINKED
#include <dlfcn.h>
#endif

typedef CUresult (*cuInit_fn)(unsigned int);
typedef CUresult (*cuDeviceGet_fn)(CUdevice *, int);
typedef CUresult (*cuDevicePrimaryCtxRetain_fn)(CUcontext *, CUdevice);
typedef CUresult (*cuCtxSetCurrent_fn)(CUcontext);
typedef CUresult (*cuGetErrorName_fn)(CUresult, const char **);

static struct {
  cuInit_fn init;
  cuDeviceGet_fn device_get;
  cuDevicePrimaryCtxRetain_fn retain;
  cuCtxSetCurrent_fn set_current;
  cuMemAlloc_v2_fn alloc;
  cuMemFree_v2_fn free;
  cuMemGetInfo_v2_fn get_info;
  cuDeviceTotalMem_v2_fn total_mem;
  cuGetErrorName_fn error_name;
  cuMemAllocPitch_v2_fn alloc_pitch;
  cuMemAllocManaged_fn alloc_managed;
  cuMemCreate_fn mem_create;
  cuMemRelease_fn mem_release;
  cuMemAddressReserve_fn addr_reserve;
  cuMemAddressFree_fn addr_free;
  cuMemMap_fn mem_map;
  cuMemUnmap_fn mem_unmap;
  cuArrayCreate_v2_fn array_create;
  cuArray3DCreate_v2_fn array3d_create;
  cuArrayDestroy_fn array_destroy;
  cuMipmappedArrayCreate_fn mipmap_create;
  cuMipmappedArrayDestroy_fn mipmap_destroy;
} cu;

static void die(const char *what)
{
  printf("{\"error\":\"%s\"}\n", what);
  fflush(stdout);
  exit(1);
}

#ifdef LINKED
static void load_families(void)
{
  cu.alloc_pitch = cuMemAllocPitch_v2;
  cu.alloc_managed = cuMemAllocManaged;
  cu.mem_create = cuMemCreate;
  cu.mem_release = cuMemRelease;
  cu.addr_reserve = cuMemAddressReserve;
  cu.addr_free = cuMemAddressFree;
  cu.mem_map = cuMemMap;
  cu.mem_unmap = cuMemUnmap;
  cu.array_create = cuArrayCreate_v2;
  cu.array3d_create = cuArray3DCreate_v2;
  cu.array_destroy = cuArrayDestroy;
  cu.mipmap_create = cuMipmappedArrayCreate;
  cu.mipmap_destroy = cuMipmappedArrayDestroy;
}

static void load_driver(void)
{
  cu.init = cuInit;
  cu.device_get = cuDeviceGet;
  cu.retain = cuDevicePrimaryCtxRetain;
  cu.set_current = cuCtxSetCurrent;
  cu.alloc = cuMemAlloc_v2;
  cu.free = cuMemFree_v2;
  cu.get_info = cuMemGetInfo_v2;
  cu.total_mem = cuDeviceTotalMem_v2;
  cu.error_name = cuGetErrorName;
}
#else
static cuGetProcAddress_v2_fn get_proc;

static void *entry(const char *base)
{
  void *p = NULL;
  CUdriverProcAddressQueryResult status = -1;
  if (get_proc(base, &p, 13000, CU_GET_PROC_ADDRESS_DEFAULT, &status) != CUDA_SUCCESS || !p ||
      status != CU_GET_PROC_ADDRESS_SUCCESS)
    die("cuGetProcAddress failed");
  return p;
}

/* As libcudart 13 does: dlopen, one dlsym, then everything by base name at a version. */
static void load_driver(void)
{
  void *h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!h) die("cannot dlopen libcuda.so.1");
  get_proc = (cuGetProcAddress_v2_fn)dlsym(h, "cuGetProcAddress_v2");
  if (!get_proc) die("no cuGetProcAddress_v2");
  get_proc = (cuGetProcAddress_v2_fn)entry("cuGetProcAddress");
  cu.init = (cuInit_fn)entry("cuInit");
  cu.device_get = (cuDeviceGet_fn)entry("cuDeviceGet");
  cu.retain = (cuDevicePrimaryCtxRetain_fn)entry("cuDevicePrimaryCtxRetain");
  cu.set_current = (cuCtxSetCurrent_fn)entry("cuCtxSetCurrent");
  cu.alloc = (cuMemAlloc_v2_fn)entry("cuMemAlloc");
  cu.free = (cuMemFree_v2_fn)entry("cuMemFree");
  cu.get_info = (cuMemGetInfo_v2_fn)entry("cuMemGetInfo");
  cu.total_mem = (cuDeviceTotalMem_v2_fn)entry("cuDeviceTotalMem");
  cu.error_name = (cuGetErrorName_fn)entry("cuGetErrorName");
}

/* Only for --api other than malloc, so the default run asks the driver for nothing new. */
static void load_families(void)
{
  cu.alloc_pitch = (cuMemAllocPitch_v2_fn)entry("cuMemAllocPitch");
  cu.alloc_managed = (cuMemAllocManaged_fn)entry("cuMemAllocManaged");
  cu.mem_create = (cuMemCreate_fn)entry("cuMemCreate");
  cu.mem_release = (cuMemRelease_fn)entry("cuMemRelease");
  cu.addr_reserve = (cuMemAddressReserve_fn)entry("cuMemAddressReserve");
  cu.addr_free = (cuMemAddressFree_fn)entry("cuMemAddressFree");
  cu.mem_map = (cuMemMap_fn)entry("cuMemMap");
  cu.mem_unmap = (cuMemUnmap_fn)entry("cuMemUnmap");
  cu.array_create = (cuArrayCreate_v2_fn)entry("cuArrayCreate");
  cu.array3d_create = (cuArray3DCreate_v2_fn)entry("cuArray3DCreate");
  cu.array_destroy = (cuArrayDestroy_fn)entry("cuArrayDestroy");
  cu.mipmap_create = (cuMipmappedArrayCreate_fn)entry("cuMipmappedArrayCreate");
  cu.mipmap_destroy = (cuMipmappedArrayDestroy_fn)entry("cuMipmappedArrayDestroy");
}
#endif

enum api { API_MALLOC, API_PITCH, API_MANAGED, API_VMM, API_ARRAY, API_ARRAY3D, API_MIPMAPPED,
           API_FAMILIES, API_MIX = API_FAMILIES };
static const char *const api_names[] = {"malloc", "pitch", "managed", "vmm", "array", "array3d",
                                        "mipmapped", "mix"};

struct block {
  enum api api;
  uint64_t handle; /* device pointer, VMM handle or array */
  uint64_t va, size; /* --map: the mapping (its handle already released) */
};

static struct {
  uint64_t width;
  unsigned levels;
  int host, map;
  CUdevice dev;
  uint64_t last_pitch;
} opt = {1000, 4, 0, 0, 0, 0};

static uint64_t at_least_1(uint64_t v) { return v ? v : 1; }

/* Allocates one block of about `size` bytes with family a; *taken = the bytes it stands for. */
static CUresult alloc_one(enum api a, uint64_t size, struct block *b, uint64_t *taken)
{
  CUdeviceptr p = 0;
  CUresult rc;
  uint64_t w = opt.width, h = at_least_1(size / w);
  b->api = a;
  b->va = 0;
  switch (a) {
  case API_PITCH: {
    size_t pitch = 0;
    rc = cu.alloc_pitch(&p, &pitch, w, h, 4);
    *taken = (uint64_t)pitch * h;
    if (rc == CUDA_SUCCESS) opt.last_pitch = pitch;
    break;
  }
  case API_MANAGED:
    rc = cu.alloc_managed(&p, size, CU_MEM_ATTACH_GLOBAL);
    *taken = size;
    break;
  case API_VMM: {
    CUmemAllocationProp prop;
    memset(&prop, 0, sizeof prop);
    prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
    prop.location.type = opt.host ? CU_MEM_LOCATION_TYPE_HOST : CU_MEM_LOCATION_TYPE_DEVICE;
    prop.location.id = opt.host ? 0 : opt.dev;
    CUmemGenericAllocationHandle handle = 0;
    rc = cu.mem_create(&handle, size, &prop, 0);
    b->handle = handle;
    *taken = size;
    if (rc != CUDA_SUCCESS || !opt.map) return rc;
    CUdeviceptr va = 0;
    if ((rc = cu.addr_reserve(&va, size, 0, 0, 0)) != CUDA_SUCCESS ||
        (rc = cu.mem_map(va, size, 0, handle, 0)) != CUDA_SUCCESS) {
      cu.mem_release(handle);
      return rc;
    }
    b->va = va;
    b->size = size;
    return cu.mem_release(handle); /* the mapping keeps the memory */
  }
  case API_ARRAY: {
    CUDA_ARRAY_DESCRIPTOR d = {w, h, CU_AD_FORMAT_UNSIGNED_INT8, 1};
    CUarray arr = NULL;
    rc = cu.array_create(&arr, &d);
    b->handle = (uint64_t)(uintptr_t)arr;
    *taken = w * h;
    return rc;
  }
  case API_ARRAY3D: {
    uint64_t depth = at_least_1(size / (w * 64));
    CUDA_ARRAY3D_DESCRIPTOR d = {w, 64, depth, CU_AD_FORMAT_UNSIGNED_INT8, 1, 0};
    CUarray arr = NULL;
    rc = cu.array3d_create(&arr, &d);
    b->handle = (uint64_t)(uintptr_t)arr;
    *taken = w * 64 * depth;
    return rc;
  }
  case API_MIPMAPPED: {
    CUDA_ARRAY3D_DESCRIPTOR d = {w, h, 0, CU_AD_FORMAT_UNSIGNED_INT8, 1, 0};
    CUmipmappedArray arr = NULL;
    rc = cu.mipmap_create(&arr, &d, opt.levels);
    b->handle = (uint64_t)(uintptr_t)arr;
    *taken = 0;
    for (unsigned l = 0; l < opt.levels; l++) *taken += at_least_1(w >> l) * at_least_1(h >> l);
    return rc;
  }
  default:
    rc = cu.alloc(&p, size);
    *taken = size;
    break;
  }
  b->handle = p;
  return rc;
}

static void free_one(const struct block *b)
{
  switch (b->api) {
  case API_VMM:
    if (b->va) {
      cu.mem_unmap(b->va, b->size);
      cu.addr_free(b->va, b->size);
    } else {
      cu.mem_release(b->handle);
    }
    break;
  case API_ARRAY: case API_ARRAY3D: cu.array_destroy((CUarray)(uintptr_t)b->handle); break;
  case API_MIPMAPPED: cu.mipmap_destroy((CUmipmappedArray)(uintptr_t)b->handle); break;
  default: cu.free(b->handle); break;
  }
}

static volatile sig_atomic_t stops; /* SIGTERMs received: the n-th ends the n-th hold */
static void on_term(int sig) { (void)sig; stops++; }

static void hold_for(double seconds, int nth)
{
  struct timespec start, now, tick = {0, 50 * 1000 * 1000};
  clock_gettime(CLOCK_MONOTONIC, &start);
  do {
    nanosleep(&tick, NULL);
    clock_gettime(CLOCK_MONOTONIC, &now);
  } while (stops < nth && (double)(now.tv_sec - start.tv_sec) +
                              (double)(now.tv_nsec - start.tv_nsec) / 1e9 < seconds);
}

static uint64_t size_arg(const char *text)
{
  uint64_t v;
  char err[256];
  if (gpumem_size_parse(text, &v, err, sizeof err)) die("bad size argument");
  return v;
}

int main(int argc, char **argv)
{
  uint64_t block = 4ULL << 20, max = 0;
  double hold = 0, hold_freed = 0;
  int do_free = 0, ordinal = 0;
  enum api api = API_MALLOC;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--free")) do_free = 1;
    else if (!strcmp(a, "--host")) opt.host = 1;
    else if (!strcmp(a, "--map")) opt.map = 1;
    else if (!v) die("missing argument value");
    else if (!strcmp(a, "--block")) block = size_arg(argv[++i]);
    else if (!strcmp(a, "--max")) max = size_arg(argv[++i]);
    else if (!strcmp(a, "--hold")) hold = atof(argv[++i]);
    else if (!strcmp(a, "--device")) ordinal = atoi(argv[++i]);
    else if (!strcmp(a, "--width")) opt.width = at_least_1(size_arg(argv[++i]));
    else if (!strcmp(a, "--levels")) opt.levels = (unsigned)atoi(argv[++i]);
    else if (!strcmp(a, "--hold-freed")) hold_freed = atof(argv[++i]);
    else if (!strcmp(a, "--api")) {
      const char *name = argv[++i];
      for (api = 0; api <= API_MIX && strcmp(api_names[api], name); api++) continue;
      if (api > API_MIX) die("unknown --api");
    }
    else die("unknown argument");
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_term;
  sigaction(SIGTERM, &sa, NULL);

  load_driver();
  if (api != API_MALLOC) load_families();
  CUdevice dev;
  CUcontext ctx;
  if (cu.init(0) != CUDA_SUCCESS) die("cuInit failed");
  if (cu.device_get(&dev, ordinal) != CUDA_SUCCESS) die("cuDeviceGet failed");
  opt.dev = dev;
  if (cu.retain(&ctx, dev) != CUDA_SUCCESS || cu.set_current(ctx) != CUDA_SUCCESS)
    die("cannot make a context current");

  size_t free_before = 0, free_after = 0, total = 0, device_total = 0;
  cu.get_info(&free_before, &total);
  cu.total_mem(&device_total, dev);

  size_t cap = 1024, n = 0;
  struct block *blocks = malloc(cap * sizeof *blocks);
  CUresult rc = CUDA_SUCCESS;
  uint64_t allocated = 0;
  while (!max || allocated + block <= max) {
    if (n == cap && !(blocks = realloc(blocks, (cap *= 2) * sizeof *blocks))) die("no memory");
    uint64_t taken = 0;
    enum api a = api == API_MIX ? (enum api)(n % API_FAMILIES) : api;
    rc = alloc_one(a, block, &blocks[n], &taken);
    if (rc != CUDA_SUCCESS) break;
    n++;
    allocated += taken;
  }
  cu.get_info(&free_after, &total);

  const char *name = NULL;
  if (rc != CUDA_SUCCESS && (cu.error_name(rc, &name) != CUDA_SUCCESS || !name))
    name = "unknown error";
  printf("{\"allocated\":%llu,\"blocks\":%zu,\"error\":%s%s%s,\"total\":%zu,\"free_before\":%zu,"
         "\"free_after\":%zu,\"device_total\":%zu,\"api\":\"%s\",\"pitch\":%llu}\n",
         (unsigned long long)allocated, n, name ? "\"" : "", name ? name : "null",
         name ? "\"" : "", total, free_before, free_after, device_total, api_names[api],
         (unsigned long long)opt.last_pitch);
  fflush(stdout);

  if (hold > 0) hold_for(hold, 1);
  if (do_free) {
    for (size_t i = 0; i < n; i++) free_one(&blocks[i]);
    if (hold_freed > 0) {
      size_t free_freed = 0;
      cu.get_info(&free_freed, &total);
      printf("{\"freed\":%zu,\"free_after_free\":%zu}\n", n, free_freed);
      fflush(stdout);
      hold_for(hold_freed, hold > 0 ? 2 : 1);
    }
  }
  return 0;
}
