/* Runs a script of VMM calls, reaching the driver by dlsym of the exported names (as torch does),
 * and prints one JSON line: per step its result, what the budget says is used (cuMemGetInfo:
 * total - free) and what the fake device holds.
 *
 *   vmm-probe reserve 16m  create A 4m  map 0 A  release A  unmap 0 4m  retain B 0 ...
 * reserve SIZE: one address range, the base of every OFFSET; create NAME SIZE; map OFFSET NAME
 * (the whole handle); unmap OFFSET SIZE; release NAME; retain NAME OFFSET
 * (cuMemRetainAllocationHandle of base + OFFSET, the handle stored as NAME). */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/common/cuda.h"
#include "../src/format/size.h"

#define NAMES 16

static void *h;
static void *fn(const char *name)
{
  void *p = dlsym(h, name);
  if (!p) {
    printf("{\"error\":\"no %s\"}\n", name);
    exit(1);
  }
  return p;
}

static uint64_t size_of(const char *text)
{
  uint64_t v = 0;
  if (!strcmp(text, "0")) return 0;
  if (gpumem_size_parse(text, &v, NULL, 0)) exit(2);
  return v;
}

int main(int argc, char **argv)
{
  h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!h) return 1;
  CUresult (*init)(unsigned) = (CUresult(*)(unsigned))fn("cuInit");
  cuDevicePrimaryCtxRetain_fn retain_ctx = (cuDevicePrimaryCtxRetain_fn)fn("cuDevicePrimaryCtxRetain");
  CUresult (*set_current)(CUcontext) = (CUresult(*)(CUcontext))fn("cuCtxSetCurrent");
  cuMemGetInfo_v2_fn info = (cuMemGetInfo_v2_fn)fn("cuMemGetInfo_v2");
  cuMemCreate_fn create = (cuMemCreate_fn)fn("cuMemCreate");
  cuMemRelease_fn release = (cuMemRelease_fn)fn("cuMemRelease");
  cuMemAddressReserve_fn reserve = (cuMemAddressReserve_fn)fn("cuMemAddressReserve");
  cuMemMap_fn map = (cuMemMap_fn)fn("cuMemMap");
  cuMemUnmap_fn unmap = (cuMemUnmap_fn)fn("cuMemUnmap");
  cuMemRetainAllocationHandle_fn retain =
    (cuMemRetainAllocationHandle_fn)fn("cuMemRetainAllocationHandle");
  int (*device)(int, uint64_t *, uint64_t *) =
    (int (*)(int, uint64_t *, uint64_t *))fn("fake_cuda_memory");
  CUcontext ctx;
  if (init(0) || retain_ctx(&ctx, 0) || set_current(ctx)) return 1;

  struct { char name[16]; CUmemGenericAllocationHandle handle; uint64_t size; } names[NAMES];
  int nnames = 0;
  CUdeviceptr base = 0;
  CUmemAllocationProp prop;
  memset(&prop, 0, sizeof prop);
  prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
  prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  printf("[");
  for (int i = 1; i < argc; i++) {
    const char *op = argv[i];
    CUresult rc;
    int args = !strcmp(op, "release") ? 1 : 2, k = -1;
    if (i + args >= argc) return 2;
    const char *a = argv[i + 1], *b = args > 1 ? argv[i + 2] : "";
    const char *nm = !strcmp(op, "map") ? b : a;
    for (int j = 0; j < nnames; j++)
      if (!strcmp(names[j].name, nm)) k = j;
    if (k < 0 && (!strcmp(op, "create") || !strcmp(op, "retain")) && nnames < NAMES) {
      k = nnames++;
      snprintf(names[k].name, sizeof names[k].name, "%s", nm);
    }
    if (!strcmp(op, "reserve")) {
      rc = reserve(&base, size_of(a), 0, 0, 0);
      args = 1;
    } else if (!strcmp(op, "create")) {
      names[k].size = size_of(b);
      rc = create(&names[k].handle, names[k].size, &prop, 0);
    } else if (!strcmp(op, "map")) {
      rc = k < 0 ? 2 : map(base + size_of(a), names[k].size, 0, names[k].handle, 0);
    } else if (!strcmp(op, "unmap")) {
      rc = unmap(base + size_of(a), size_of(b));
    } else if (!strcmp(op, "release")) {
      rc = k < 0 ? 2 : release(names[k].handle);
    } else if (!strcmp(op, "retain")) {
      rc = retain(&names[k].handle, (void *)(uintptr_t)(base + size_of(b)));
    } else {
      return 2;
    }
    size_t f = 0, t = 0;
    uint64_t total = 0, held = 0;
    info(&f, &t);
    device(0, &total, &held);
    printf("%s{\"step\":\"%s %s%s%s\",\"rc\":%d,\"used\":%llu,\"device\":%llu}", i > 1 ? "," : "",
           op, a, args > 1 ? " " : "", args > 1 ? b : "", rc, (unsigned long long)(t - f),
           (unsigned long long)held);
    i += args;
  }
  printf("]\n");
  return 0;
}
