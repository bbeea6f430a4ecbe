/* The fake driver's pitch, managed, VMM and array allocations, with the real driver's rules where
 * gpumem depends on them: pitch rounded up to 512 bytes, VMM sizes a multiple of the 2 MiB
 * granularity, array requirements only for deferred-mapping arrays, VMM memory freed only at
 * the last of its handle's releases and its unmaps. Everything counts against
 * the fake device memory (fake_cuda.c), so a fill is refused where a real device would be.
 *
 * FAKE_CUDA_NO_DEFERRED_ARRAYS=1: the device does not support CUDA_ARRAY3D_DEFERRED_MAPPING
 * (creation with it fails), as before CUDA 11.6.
 * FAKE_CUDA_PITCH_ROUND=N: cuMemAllocPitch rounds rows to N bytes while the pitch attribute still
 * says 512: a driver whose pitch exceeds what gpumem reserved before the call. */
#include <pthread.h>
#include <stdlib.h>

#include "fake_cuda_families.h"

#define CUDA_ERROR_NOT_SUPPORTED 801
#define CU_DEVICE_ATTRIBUTE_DEFERRED_MAPPING_CUDA_ARRAY_SUPPORTED 121
#define PITCH_ALIGNMENT 512
#define VMM_MIN_GRANULARITY (2ULL << 20)
#define VMM_RECOMMENDED_GRANULARITY (20ULL << 20)
#define ARRAY_ROW_ALIGNMENT 512
#define ARRAY_OVERHEAD 4096 /* per array: descriptors, tail padding */
#define ARRAY_ALIGNMENT 65536

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static int deferred_supported(void)
{
  const char *no = getenv("FAKE_CUDA_NO_DEFERRED_ARRAYS");
  return !(no && *no && *no != '0');
}

CUresult cuDeviceGetAttribute(int *pi, CUdevice_attribute attrib, CUdevice dev)
{
  CUresult rc = fake_check_device(dev);
  if (rc) return rc;
  if (!pi) return CUDA_ERROR_INVALID_VALUE;
  switch (attrib) {
  case CU_DEVICE_ATTRIBUTE_TEXTURE_PITCH_ALIGNMENT: *pi = PITCH_ALIGNMENT; return CUDA_SUCCESS;
  /* 4 SMs x 256 threads: 1 MiB of local memory per KiB of per-thread stack (fake_cuda_code.c) */
  case CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT: *pi = 4; return CUDA_SUCCESS;
  case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR: *pi = 256; return CUDA_SUCCESS;
  case CU_DEVICE_ATTRIBUTE_DEFERRED_MAPPING_CUDA_ARRAY_SUPPORTED:
    *pi = deferred_supported();
    return CUDA_SUCCESS;
  default: return CUDA_ERROR_INVALID_VALUE;
  }
}

/* ---- pitch and managed: ordinary device pointers, freed by cuMemFree_v2 ---- */

CUresult cuMemAllocPitch_v2(CUdeviceptr *dptr, size_t *pPitch, size_t WidthInBytes, size_t Height,
                            unsigned int ElementSizeBytes)
{
  CUdevice dev;
  CUresult rc = fake_current_device(&dev);
  if (rc) return rc;
  if (!dptr || !pPitch || WidthInBytes == 0 || Height == 0 ||
      (ElementSizeBytes != 4 && ElementSizeBytes != 8 && ElementSizeBytes != 16))
    return CUDA_ERROR_INVALID_VALUE;
  const char *round_env = getenv("FAKE_CUDA_PITCH_ROUND");
  uint64_t round = round_env && atoi(round_env) > 0 ? (uint64_t)atoi(round_env) : PITCH_ALIGNMENT;
  uint64_t pitch = (WidthInBytes + round - 1) / round * round, bytes;
  if (WidthInBytes > UINT64_MAX - round || __builtin_mul_overflow(pitch, Height, &bytes))
    return CUDA_ERROR_OUT_OF_MEMORY;
  rc = fake_allocate(dptr, bytes);
  if (rc == CUDA_SUCCESS) *pPitch = pitch;
  return rc;
}

CUresult cuMemAllocManaged(CUdeviceptr *dptr, size_t bytesize, unsigned int flags)
{
  CUdevice dev;
  CUresult rc = fake_current_device(&dev);
  if (rc) return rc;
  if (flags != CU_MEM_ATTACH_GLOBAL && flags != CU_MEM_ATTACH_HOST) return CUDA_ERROR_INVALID_VALUE;
  return fake_allocate_managed(dptr, bytesize);
}

/* ---- VMM: handles of physical memory, on a device or on the host ---- */

struct handle {
  CUmemGenericAllocationHandle id;
  uint64_t size;
  CUdevice dev;  /* -1: host memory */
  unsigned refs; /* cuMemCreate + cuMemRetainAllocationHandle - cuMemRelease; 0: id is dead */
  unsigned maps; /* mappings; the memory is freed when both reach 0 */
  struct handle *next;
};
static struct handle *handles; /* live ids only (refs > 0) */
static CUmemGenericAllocationHandle next_handle = 0x5a0000000000ULL;

struct mapping {
  CUdeviceptr va;
  uint64_t size;
  struct handle *h;
  struct mapping *next;
};
static struct mapping *mappings;
#define VA_BASE 0x400000000000ULL /* below the pools' (fake_cuda_async.c) */
static uint64_t next_va = VA_BASE;

/* The device a valid prop places memory on, or -1 for the host; *err says if it is invalid. */
static int prop_device(const CUmemAllocationProp *prop, CUresult *err)
{
  *err = CUDA_SUCCESS;
  if (!prop || prop->type != CU_MEM_ALLOCATION_TYPE_PINNED) *err = CUDA_ERROR_INVALID_VALUE;
  else if (prop->location.type == CU_MEM_LOCATION_TYPE_DEVICE)
    *err = fake_check_device(prop->location.id);
  else if (prop->location.type < CU_MEM_LOCATION_TYPE_HOST ||
           prop->location.type > CU_MEM_LOCATION_TYPE_HOST_NUMA_CURRENT)
    *err = CUDA_ERROR_INVALID_VALUE;
  else
    return -1;
  return prop->location.id;
}

CUresult cuMemGetAllocationGranularity(size_t *granularity, const CUmemAllocationProp *prop,
                                       int option)
{
  CUresult err;
  prop_device(prop, &err);
  if (err) return err;
  if (!granularity) return CUDA_ERROR_INVALID_VALUE;
  if (option == CU_MEM_ALLOC_GRANULARITY_MINIMUM) *granularity = VMM_MIN_GRANULARITY;
  else if (option == CU_MEM_ALLOC_GRANULARITY_RECOMMENDED) *granularity = VMM_RECOMMENDED_GRANULARITY;
  else return CUDA_ERROR_INVALID_VALUE;
  return CUDA_SUCCESS;
}

CUresult cuMemCreate(CUmemGenericAllocationHandle *handle, size_t size,
                     const CUmemAllocationProp *prop, unsigned long long flags)
{
  CUresult err;
  int dev = prop_device(prop, &err);
  if (err) return err;
  if (!handle || flags != 0 || size == 0 || size % VMM_MIN_GRANULARITY) return CUDA_ERROR_INVALID_VALUE;
  struct handle *h = malloc(sizeof *h);
  if (!h) return CUDA_ERROR_OUT_OF_MEMORY;
  if (dev >= 0 && (err = fake_charge(dev, size)) != CUDA_SUCCESS) {
    free(h);
    return err;
  }
  pthread_mutex_lock(&lock);
  *h = (struct handle){next_handle, size, dev, 1, 0, handles};
  next_handle += 0x1000;
  handles = h;
  *handle = h->id;
  pthread_mutex_unlock(&lock);
  return CUDA_SUCCESS;
}

/* With the lock held, when a reference or a mapping of h ends: the memory goes at the last. */
static void drop_if_unused(struct handle *h)
{
  if (h->refs || h->maps) return;
  if (h->dev >= 0) fake_uncharge(h->dev, h->size);
  free(h);
}

CUresult cuMemRelease(CUmemGenericAllocationHandle handle)
{
  pthread_mutex_lock(&lock);
  struct handle **p = &handles;
  while (*p && (*p)->id != handle) p = &(*p)->next;
  struct handle *h = *p;
  if (h && --h->refs == 0) {
    *p = h->next; /* the id is dead; mappings keep the memory */
    drop_if_unused(h);
  }
  pthread_mutex_unlock(&lock);
  return h ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

/* Address space only: a bump allocator, never reused, as far as these tests need. */
CUresult cuMemAddressReserve(CUdeviceptr *ptr, size_t size, size_t alignment, CUdeviceptr addr,
                             unsigned long long flags)
{
  (void)addr;
  if (!ptr || size == 0 || size % VMM_MIN_GRANULARITY || flags) return CUDA_ERROR_INVALID_VALUE;
  uint64_t align = alignment > VMM_MIN_GRANULARITY ? alignment : VMM_MIN_GRANULARITY;
  pthread_mutex_lock(&lock);
  next_va = (next_va + align - 1) / align * align;
  *ptr = next_va;
  next_va += size;
  pthread_mutex_unlock(&lock);
  return CUDA_SUCCESS;
}

CUresult cuMemAddressFree(CUdeviceptr ptr, size_t size)
{
  return ptr && size ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

CUresult cuMemMap(CUdeviceptr ptr, size_t size, size_t offset, CUmemGenericAllocationHandle handle,
                  unsigned long long flags)
{
  if (!ptr || !size || flags || (ptr | size | offset) % VMM_MIN_GRANULARITY)
    return CUDA_ERROR_INVALID_VALUE;
  struct mapping *m = malloc(sizeof *m);
  if (!m) return CUDA_ERROR_OUT_OF_MEMORY;
  CUresult rc = CUDA_SUCCESS;
  pthread_mutex_lock(&lock);
  struct handle *h = handles;
  while (h && h->id != handle) h = h->next;
  if (!h || offset > h->size || size > h->size - offset) rc = CUDA_ERROR_INVALID_VALUE;
  for (struct mapping *o = mappings; !rc && o; o = o->next)
    if (o->va < ptr + size && ptr < o->va + o->size) rc = CUDA_ERROR_INVALID_VALUE; /* mapped */
  if (!rc) {
    *m = (struct mapping){ptr, size, h, mappings};
    mappings = m;
    h->maps++;
  }
  pthread_mutex_unlock(&lock);
  if (rc) free(m);
  return rc;
}

/* The range must consist of whole mappings (one or several), as the driver requires. */
CUresult cuMemUnmap(CUdeviceptr ptr, size_t size)
{
  if (!ptr || !size) return CUDA_ERROR_INVALID_VALUE;
  CUresult rc = CUDA_SUCCESS;
  uint64_t covered = 0;
  pthread_mutex_lock(&lock);
  for (struct mapping *o = mappings; o; o = o->next) {
    if (!(o->va < ptr + size && ptr < o->va + o->size)) continue;
    if (o->va < ptr || o->va + o->size > ptr + size) rc = CUDA_ERROR_INVALID_VALUE; /* a part */
    covered += o->size;
  }
  if (!rc && covered != size) rc = CUDA_ERROR_INVALID_VALUE; /* holes */
  for (struct mapping **p = &mappings; !rc && *p;) {
    struct mapping *o = *p;
    if (o->va >= ptr && o->va < ptr + size) {
      *p = o->next;
      o->h->maps--;
      drop_if_unused(o->h);
      free(o);
    } else {
      p = &o->next;
    }
  }
  pthread_mutex_unlock(&lock);
  return rc;
}

CUresult cuMemRetainAllocationHandle(CUmemGenericAllocationHandle *handle, void *addr)
{
  if (!handle) return CUDA_ERROR_INVALID_VALUE;
  CUdeviceptr a = (CUdeviceptr)(uintptr_t)addr;
  CUresult rc = CUDA_ERROR_INVALID_VALUE;
  pthread_mutex_lock(&lock);
  for (struct mapping *o = mappings; o; o = o->next) {
    if (a < o->va || a - o->va >= o->size) continue;
    struct handle *h = o->h;
    if (h->refs++ == 0) { /* every id was released: a new one for the same memory */
      h->id = next_handle;
      next_handle += 0x1000;
      h->next = handles;
      handles = h;
    }
    *handle = h->id;
    rc = CUDA_SUCCESS;
    break;
  }
  pthread_mutex_unlock(&lock);
  return rc;
}

/* ---- arrays and mipmapped arrays: opaque handles with a padded size ---- */

struct array {
  int mipmapped;
  int deferred; /* no memory until mapped */
  uint64_t size;
  CUdevice dev;
  struct array *next;
};
static struct array *arrays;

static uint64_t element_bytes(CUarray_format f)
{
  switch (f) {
  case CU_AD_FORMAT_UNSIGNED_INT8: case CU_AD_FORMAT_SIGNED_INT8: return 1;
  case CU_AD_FORMAT_UNSIGNED_INT16: case CU_AD_FORMAT_SIGNED_INT16: case CU_AD_FORMAT_HALF: return 2;
  case CU_AD_FORMAT_UNSIGNED_INT32: case CU_AD_FORMAT_SIGNED_INT32: case CU_AD_FORMAT_FLOAT: return 4;
  default: return 0;
  }
}

/* Size of an array as this fake lays it out: each level's rows padded to 512 bytes, levels
 * summed, plus a fixed overhead. 0 for a descriptor the real driver would refuse. */
static uint64_t array_size(const CUDA_ARRAY3D_DESCRIPTOR *d, unsigned levels)
{
  uint64_t elem = element_bytes(d->Format), total = ARRAY_OVERHEAD;
  unsigned c = d->NumChannels;
  int layered = (d->Flags & (CUDA_ARRAY3D_LAYERED | CUDA_ARRAY3D_CUBEMAP)) != 0;
  if (!elem || (c != 1 && c != 2 && c != 4) || d->Width == 0 ||
      (d->Height == 0 && d->Depth != 0 && !layered))
    return 0;
  uint64_t w = d->Width, h = d->Height ? d->Height : 1, z = d->Depth ? d->Depth : 1;
  uint64_t largest = w > h ? w : h, max_levels = 0;
  if (!layered && z > largest) largest = z;
  while (largest) { max_levels++; largest >>= 1; }
  if (levels == 0 || levels > max_levels) return 0;
  for (unsigned l = 0; l < levels; l++) {
    uint64_t lw = w >> l ? w >> l : 1, lh = h >> l ? h >> l : 1;
    uint64_t lz = layered ? z : (z >> l ? z >> l : 1), row, level;
    if (__builtin_mul_overflow(lw, elem * c, &row) || row > UINT64_MAX - ARRAY_ROW_ALIGNMENT)
      return UINT64_MAX;
    row = (row + ARRAY_ROW_ALIGNMENT - 1) / ARRAY_ROW_ALIGNMENT * ARRAY_ROW_ALIGNMENT;
    if (__builtin_mul_overflow(row, lh, &level) || __builtin_mul_overflow(level, lz, &level) ||
        __builtin_add_overflow(total, level, &total))
      return UINT64_MAX;
  }
  return total;
}

static CUresult create(struct array **out, const CUDA_ARRAY3D_DESCRIPTOR *d, unsigned levels,
                       int mipmapped)
{
  CUdevice dev;
  CUresult rc = fake_current_device(&dev);
  if (rc) return rc;
  if (!out || !d) return CUDA_ERROR_INVALID_VALUE;
  uint64_t size = array_size(d, levels);
  if (size == 0) return CUDA_ERROR_INVALID_VALUE;
  int deferred = (d->Flags & (CUDA_ARRAY3D_DEFERRED_MAPPING | CUDA_ARRAY3D_SPARSE)) != 0;
  if ((d->Flags & CUDA_ARRAY3D_DEFERRED_MAPPING) && !deferred_supported())
    return CUDA_ERROR_NOT_SUPPORTED;
  if (size == UINT64_MAX) return CUDA_ERROR_OUT_OF_MEMORY;
  struct array *a = malloc(sizeof *a);
  if (!a) return CUDA_ERROR_OUT_OF_MEMORY;
  if (!deferred && (rc = fake_charge(dev, size)) != CUDA_SUCCESS) {
    free(a);
    return rc;
  }
  pthread_mutex_lock(&lock);
  *a = (struct array){mipmapped, deferred, size, dev, arrays};
  arrays = a;
  pthread_mutex_unlock(&lock);
  *out = a;
  return CUDA_SUCCESS;
}

/* Unlinks a live array of the given kind (or just finds it, keep = 1); NULL if it is not one. */
static struct array *find(const void *handle, int mipmapped, int keep)
{
  pthread_mutex_lock(&lock);
  struct array **p = &arrays;
  while (*p && (*p != handle || (*p)->mipmapped != mipmapped)) p = &(*p)->next;
  struct array *a = *p;
  if (a && !keep) *p = a->next;
  pthread_mutex_unlock(&lock);
  return a;
}

static CUresult destroy(const void *handle, int mipmapped)
{
  struct array *a = find(handle, mipmapped, 0);
  if (!a) return CUDA_ERROR_INVALID_VALUE;
  if (!a->deferred) fake_uncharge(a->dev, a->size);
  free(a);
  return CUDA_SUCCESS;
}

static CUresult requirements(CUDA_ARRAY_MEMORY_REQUIREMENTS *req, const void *handle,
                             int mipmapped, CUdevice device)
{
  CUresult rc = fake_check_device(device);
  if (rc) return rc;
  struct array *a = find(handle, mipmapped, 1);
  if (!req || !a || !a->deferred) return CUDA_ERROR_INVALID_VALUE; /* as documented */
  req->size = a->size;
  req->alignment = ARRAY_ALIGNMENT;
  return CUDA_SUCCESS;
}

CUresult cuArrayCreate_v2(CUarray *pHandle, const CUDA_ARRAY_DESCRIPTOR *desc)
{
  if (!pHandle || !desc) return CUDA_ERROR_INVALID_VALUE;
  CUDA_ARRAY3D_DESCRIPTOR d = {desc->Width, desc->Height, 0, desc->Format, desc->NumChannels, 0};
  return create((struct array **)pHandle, &d, 1, 0);
}

CUresult cuArray3DCreate_v2(CUarray *pHandle, const CUDA_ARRAY3D_DESCRIPTOR *desc)
{
  return create((struct array **)pHandle, desc, 1, 0);
}

CUresult cuMipmappedArrayCreate(CUmipmappedArray *pHandle, const CUDA_ARRAY3D_DESCRIPTOR *desc,
                                unsigned int numMipmapLevels)
{
  return create((struct array **)pHandle, desc, numMipmapLevels, 1);
}

CUresult cuArrayDestroy(CUarray hArray) { return destroy(hArray, 0); }

CUresult cuMipmappedArrayDestroy(CUmipmappedArray hMipmappedArray)
{
  return destroy(hMipmappedArray, 1);
}

CUresult cuArrayGetMemoryRequirements(CUDA_ARRAY_MEMORY_REQUIREMENTS *req, CUarray array,
                                      CUdevice device)
{
  return requirements(req, array, 0, device);
}

CUresult cuMipmappedArrayGetMemoryRequirements(CUDA_ARRAY_MEMORY_REQUIREMENTS *req,
                                               CUmipmappedArray mipmap, CUdevice device)
{
  return requirements(req, mipmap, 1, device);
}
