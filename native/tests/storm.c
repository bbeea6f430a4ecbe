/* One process of the storm test: many threads allocating and freeing random sizes against the
 * container's budget, reaching the driver as cudart 13 does, with cuMemAlloc, pitch, managed and
 * VMM (create + map, the handle released at once or after the unmap) picked at random. When
 * --seconds end, or at SIGUSR1, it stops allocating and prints one JSON line with what it still
 * holds and the longest any one driver call took ("max_call_us": a call blocked behind a killed
 * process shows there), then holds it until SIGTERM (or exits with --exit). SIGTERM during the
 * storm stops it the same way and exits after the line.
 *
 *   storm --threads 16 --seconds 5 --max-block 4m --seed 7 [--pace-us 200] [--exit]
 *         --pace-us: each thread sleeps that long between operations (default 0), so that a storm
 *         on a machine of few cores measures blocking rather than waiting for a core
 *   storm --init-shared FILE     creates the fake driver's cross-process file (FAKE_CUDA_SHARED)
 *   storm --read-shared FILE     prints its peak and the live processes' total per device */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "../fakes/fake_cuda_shared.h"
#include "../src/common/cuda.h"
#include "../src/format/size.h"

#define HELD_MAX 64

static cuGetProcAddress_v2_fn get_proc;
static CUresult (*set_current)(CUcontext);
static cuMemAlloc_v2_fn mem_alloc;
static cuMemFree_v2_fn mem_free;
static cuMemGetInfo_v2_fn mem_info;
static cuMemAllocPitch_v2_fn mem_pitch;
static cuMemAllocManaged_fn mem_managed;
static cuMemCreate_fn mem_create;
static cuMemRelease_fn mem_release;
static cuMemAddressReserve_fn addr_reserve;
static cuMemMap_fn mem_map;
static cuMemUnmap_fn mem_unmap;
#define VMM_GRANULE (2ULL << 20)
enum kind { K_MALLOC, K_PITCH, K_MANAGED, K_VMM, K_KINDS };
static uint64_t allocs_by[K_KINDS];
static CUcontext ctx;
static uint64_t max_block = 4ULL << 20;
static double seconds = 5;
static unsigned seed = 1;
static unsigned pace_us;
static uint64_t held_total, allocs, frees, refused, info_bad, max_call_ns;
static volatile sig_atomic_t stop, report_now;

static void on_term(int sig) { (void)sig; stop = 1; }
static void on_usr1(int sig) { (void)sig; report_now = 1; }

static uint64_t now_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static double now(void) { return (double)now_ns() / 1e9; }

static void note_call(uint64_t since)
{
  uint64_t took = now_ns() - since, seen = __atomic_load_n(&max_call_ns, __ATOMIC_RELAXED);
  while (took > seen && !__atomic_compare_exchange_n(&max_call_ns, &seen, took, 1,
                                                     __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
  }
}

/* Every driver call of the storm goes through this: its wall time feeds max_call_us. */
#define TIMED(call) \
  __extension__({ uint64_t t0_ = now_ns(); CUresult r_ = (call); note_call(t0_); r_; })

static void *entry(const char *base)
{
  void *p = NULL;
  if (get_proc(base, &p, 13000, CU_GET_PROC_ADDRESS_DEFAULT, NULL) != CUDA_SUCCESS || !p) {
    printf("{\"error\":\"no %s\"}\n", base);
    exit(1);
  }
  return p;
}

static uint32_t next(uint32_t *s)
{
  *s ^= *s << 13;
  *s ^= *s >> 17;
  *s ^= *s << 5;
  return *s;
}

struct held { CUdeviceptr p; uint64_t size; enum kind kind; int slot; CUmemGenericAllocationHandle h; };

/* One block of a random family; 0 and *b filled, or the driver's error. */
static CUresult alloc_one(uint32_t *rng, uint64_t pages, CUdeviceptr va_base, uint64_t *slots,
                          struct held *b)
{
  uint64_t size = (1 + next(rng) % pages) * 4096;
  b->kind = (enum kind)(next(rng) % K_KINDS);
  b->slot = -1;
  b->h = 0;
  switch (b->kind) {
  case K_PITCH: { /* rows of 1000 bytes padded to 1024: charged and held pitch x height */
    size_t pitch = 0, rows = size / 1024;
    CUresult rc = TIMED(mem_pitch(&b->p, &pitch, 1000, rows, 4));
    b->size = (uint64_t)pitch * rows;
    return rc;
  }
  case K_MANAGED:
    b->size = size;
    return TIMED(mem_managed(&b->p, size, CU_MEM_ATTACH_GLOBAL));
  case K_VMM: {
    int slot = __builtin_ffsll((long long)~*slots) - 1; /* a free 2 MiB slot of this thread's range */
    if (slot < 0) return CUDA_ERROR_OUT_OF_MEMORY;
    CUmemAllocationProp prop;
    memset(&prop, 0, sizeof prop);
    prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
    prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    b->size = VMM_GRANULE;
    CUresult rc = TIMED(mem_create(&b->h, VMM_GRANULE, &prop, 0));
    if (rc) return rc;
    b->p = va_base + (uint64_t)slot * VMM_GRANULE;
    if ((rc = TIMED(mem_map(b->p, VMM_GRANULE, 0, b->h, 0))) != CUDA_SUCCESS) {
      TIMED(mem_release(b->h));
      return rc;
    }
    *slots |= 1ULL << slot;
    b->slot = slot;
    if (next(rng) % 2 == 0) { /* as the CUDA samples: the mapping keeps the memory */
      TIMED(mem_release(b->h));
      b->h = 0;
    }
    return CUDA_SUCCESS;
  }
  default:
    b->kind = K_MALLOC;
    b->size = size;
    return TIMED(mem_alloc(&b->p, size));
  }
}

static CUresult free_one(uint32_t *rng, uint64_t *slots, struct held *b)
{
  if (b->kind != K_VMM) return TIMED(mem_free(b->p));
  /* a handle still held is released before or after the unmap; the memory goes at the last */
  int release_first = b->h && next(rng) % 2;
  if (release_first && TIMED(mem_release(b->h)) != CUDA_SUCCESS) return CUDA_ERROR_INVALID_VALUE;
  CUresult rc = TIMED(mem_unmap(b->p, b->size));
  if (rc == CUDA_SUCCESS && b->h && !release_first) rc = TIMED(mem_release(b->h));
  if (rc == CUDA_SUCCESS) *slots &= ~(1ULL << b->slot);
  return rc;
}

static void *worker(void *arg)
{
  uint32_t rng = (uint32_t)(seed * 2654435761u) ^ (uint32_t)(uintptr_t)arg ^ (uint32_t)getpid();
  if (!rng) rng = 1;
  struct held held[HELD_MAX];
  int n = 0;
  set_current(ctx);
  CUdeviceptr va_base = 0;
  uint64_t slots = 0; /* VMM address slots in use */
  if (TIMED(addr_reserve(&va_base, HELD_MAX * VMM_GRANULE, 0, 0, 0)) != CUDA_SUCCESS) slots = ~0ULL;
  double end = now() + seconds;
  /* 4 KiB multiples: the fake rounds to 512 bytes, so what it holds is exactly what is charged. */
  uint64_t pages = max_block / 4096;
  while (!stop && !report_now && now() < end) {
    uint32_t r = next(&rng);
    if (n < HELD_MAX && (n == 0 || r % 100 < 55)) {
      if (alloc_one(&rng, pages, va_base, &slots, &held[n]) == CUDA_SUCCESS) {
        __atomic_add_fetch(&held_total, held[n].size, __ATOMIC_RELAXED);
        __atomic_add_fetch(&allocs, 1, __ATOMIC_RELAXED);
        __atomic_add_fetch(&allocs_by[held[n].kind], 1, __ATOMIC_RELAXED);
        n++;
      } else {
        __atomic_add_fetch(&refused, 1, __ATOMIC_RELAXED);
      }
    } else if (n > 0) {
      int i = (int)(next(&rng) % (uint32_t)n);
      if (free_one(&rng, &slots, &held[i]) == CUDA_SUCCESS) {
        __atomic_sub_fetch(&held_total, held[i].size, __ATOMIC_RELAXED);
        __atomic_add_fetch(&frees, 1, __ATOMIC_RELAXED);
        held[i] = held[--n];
      }
    }
    if (r % 64 == 0) { /* what the program is told must stay within what it was given */
      size_t f = 0, t = 0;
      if (TIMED(mem_info(&f, &t)) == CUDA_SUCCESS && f > t) __atomic_add_fetch(&info_bad, 1, __ATOMIC_RELAXED);
    }
    if (pace_us) usleep(pace_us);
  }
  return NULL;
}

static int init_shared(const char *path)
{
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0 || ftruncate(fd, sizeof(struct fake_shared))) return 1;
  struct fake_shared *s =
    mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (s == MAP_FAILED) return 1;
  pthread_mutexattr_t a;
  pthread_mutexattr_init(&a);
  pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
  pthread_mutex_init(&s->lock.mutex, &a);
  __atomic_store_n(&s->initialized, 0x5ca1ab1eu, __ATOMIC_RELEASE);
  return 0;
}

static int read_shared(const char *path)
{
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 1;
  struct fake_shared *s = mmap(NULL, sizeof *s, PROT_READ, MAP_SHARED, fd, 0);
  close(fd);
  if (s == MAP_FAILED) return 1;
  printf("{\"peak\":%llu,\"live_total\":", (unsigned long long)s->peak[0]);
  uint64_t live = 0;
  for (int i = 0; i < FAKE_SHARED_SLOTS; i++) {
    int32_t pid = s->slots[i].pid;
    if (pid > 0 && (kill(pid, 0) == 0 || errno != ESRCH)) live += s->slots[i].used[0];
  }
  printf("%llu}\n", (unsigned long long)live);
  return 0;
}

int main(int argc, char **argv)
{
  int threads = 16, exit_after = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
    if (!strcmp(a, "--init-shared")) return init_shared(v);
    if (!strcmp(a, "--read-shared")) return read_shared(v);
    if (!strcmp(a, "--exit")) exit_after = 1;
    else if (!strcmp(a, "--threads")) threads = atoi(argv[++i]);
    else if (!strcmp(a, "--seconds")) seconds = atof(argv[++i]);
    else if (!strcmp(a, "--seed")) seed = (unsigned)atoi(argv[++i]);
    else if (!strcmp(a, "--max-block")) gpumem_size_parse(argv[++i], &max_block, NULL, 0);
    else if (!strcmp(a, "--pace-us")) pace_us = (unsigned)atoi(argv[++i]);
  }
  if (max_block < 4096) max_block = 4096;
  signal(SIGTERM, on_term);
  signal(SIGUSR1, on_usr1);
  /* A supervisor (kill-storm) starts us with both blocked, so that one sent before this point
   * waits for the handlers instead of killing us. */
  sigset_t ours;
  sigemptyset(&ours);
  sigaddset(&ours, SIGTERM);
  sigaddset(&ours, SIGUSR1);
  pthread_sigmask(SIG_UNBLOCK, &ours, NULL);
  void *h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!h || !(get_proc = (cuGetProcAddress_v2_fn)dlsym(h, "cuGetProcAddress_v2"))) {
    printf("{\"error\":\"no driver\"}\n");
    return 1;
  }
  CUresult (*init)(unsigned) = (CUresult(*)(unsigned))entry("cuInit");
  cuDevicePrimaryCtxRetain_fn retain = (cuDevicePrimaryCtxRetain_fn)entry("cuDevicePrimaryCtxRetain");
  set_current = (CUresult(*)(CUcontext))entry("cuCtxSetCurrent");
  mem_alloc = (cuMemAlloc_v2_fn)entry("cuMemAlloc");
  mem_free = (cuMemFree_v2_fn)entry("cuMemFree");
  mem_info = (cuMemGetInfo_v2_fn)entry("cuMemGetInfo");
  mem_pitch = (cuMemAllocPitch_v2_fn)entry("cuMemAllocPitch");
  mem_managed = (cuMemAllocManaged_fn)entry("cuMemAllocManaged");
  mem_create = (cuMemCreate_fn)entry("cuMemCreate");
  mem_release = (cuMemRelease_fn)entry("cuMemRelease");
  addr_reserve = (cuMemAddressReserve_fn)entry("cuMemAddressReserve");
  mem_map = (cuMemMap_fn)entry("cuMemMap");
  mem_unmap = (cuMemUnmap_fn)entry("cuMemUnmap");
  CUresult rc;
  if (init(0) != CUDA_SUCCESS || (rc = retain(&ctx, 0)) != CUDA_SUCCESS) {
    printf("{\"pid\":%d,\"error\":\"no context\",\"held\":0}\n", (int)getpid());
    fflush(stdout);
    while (!exit_after && !stop) usleep(50000); /* holds nothing, still reports */
    return 0;
  }
  pthread_t *t = calloc((size_t)threads, sizeof *t);
  for (int i = 0; i < threads; i++) pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)i);
  for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
  printf("{\"pid\":%d,\"held\":%llu,\"allocs\":%llu,\"frees\":%llu,\"refused\":%llu,"
         "\"info_bad\":%llu,\"max_call_us\":%llu,\"by_kind\":[%llu,%llu,%llu,%llu]}\n",
         (int)getpid(), (unsigned long long)held_total, (unsigned long long)allocs,
         (unsigned long long)frees, (unsigned long long)refused, (unsigned long long)info_bad,
         (unsigned long long)(max_call_ns / 1000),
         (unsigned long long)allocs_by[K_MALLOC], (unsigned long long)allocs_by[K_PITCH],
         (unsigned long long)allocs_by[K_MANAGED], (unsigned long long)allocs_by[K_VMM]);
  fflush(stdout);
  while (!exit_after && !stop) usleep(50000);
  return 0;
}
