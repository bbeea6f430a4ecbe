/* One process of the storm test: many threads allocating and freeing random sizes against the
 * container's budget, reaching the driver as cudart 13 does. Prints one JSON line with what it
 * still holds, then holds it until SIGTERM (or exits with --exit).
 *
 *   storm --threads 16 --seconds 5 --max-block 4m --seed 7 [--exit]
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
static CUcontext ctx;
static uint64_t max_block = 4ULL << 20;
static double seconds = 5;
static unsigned seed = 1;
static uint64_t held_total, allocs, frees, refused, info_bad;
static volatile sig_atomic_t stop;

static void on_term(int sig) { (void)sig; stop = 1; }

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

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

static void *worker(void *arg)
{
  uint32_t rng = (uint32_t)(seed * 2654435761u) ^ (uint32_t)(uintptr_t)arg ^ (uint32_t)getpid();
  if (!rng) rng = 1;
  struct { CUdeviceptr p; uint64_t size; } held[HELD_MAX];
  int n = 0;
  set_current(ctx);
  double end = now() + seconds;
  /* 4 KiB multiples: the fake rounds to 512 bytes, so what it holds is exactly what is charged. */
  uint64_t pages = max_block / 4096;
  while (!stop && now() < end) {
    uint32_t r = next(&rng);
    if (n < HELD_MAX && (n == 0 || r % 100 < 55)) {
      uint64_t size = (1 + next(&rng) % pages) * 4096;
      CUdeviceptr p;
      CUresult rc = mem_alloc(&p, size);
      if (rc == CUDA_SUCCESS) {
        held[n].p = p;
        held[n++].size = size;
        __atomic_add_fetch(&held_total, size, __ATOMIC_RELAXED);
        __atomic_add_fetch(&allocs, 1, __ATOMIC_RELAXED);
      } else {
        __atomic_add_fetch(&refused, 1, __ATOMIC_RELAXED);
      }
    } else if (n > 0) {
      int i = (int)(next(&rng) % (uint32_t)n);
      if (mem_free(held[i].p) == CUDA_SUCCESS) {
        __atomic_sub_fetch(&held_total, held[i].size, __ATOMIC_RELAXED);
        __atomic_add_fetch(&frees, 1, __ATOMIC_RELAXED);
        held[i] = held[--n];
      }
    }
    if (r % 64 == 0) { /* what the program is told must stay within what it was given */
      size_t f = 0, t = 0;
      if (mem_info(&f, &t) == CUDA_SUCCESS && f > t) __atomic_add_fetch(&info_bad, 1, __ATOMIC_RELAXED);
    }
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
  }
  if (max_block < 4096) max_block = 4096;
  signal(SIGTERM, on_term);
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
         "\"info_bad\":%llu}\n",
         (int)getpid(), (unsigned long long)held_total, (unsigned long long)allocs,
         (unsigned long long)frees, (unsigned long long)refused, (unsigned long long)info_bad);
  fflush(stdout);
  while (!exit_after && !stop) usleep(50000);
  return 0;
}
