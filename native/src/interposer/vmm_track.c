/* Sorted arrays under one lock: handles by value, mappings by address (VMM calls are rare). */
#include "vmm_track.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "budget.h"
#include "fork_reset.h"

struct vmm_alloc {
  uint64_t handle, size;
  int dev;
  int indexed;   /* in the handle index (it has references and the value is still ours) */
  unsigned refs; /* cuMemCreate + cuMemRetainAllocationHandle - cuMemRelease */
  unsigned maps; /* live mappings */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static struct vmm_alloc **index_; /* sorted by handle */
static size_t nindex, capindex;
static struct vmm_mapping *maps; /* sorted by va, never overlapping */
static size_t nmaps, capmaps;

/* A child after fork() starts empty: the handles it inherits are not its to free. */
static void after_fork_child(void)
{
  pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
  lock = fresh;
  index_ = NULL; /* the parent's arrays are left alone */
  maps = NULL;
  nindex = capindex = nmaps = capmaps = 0;
}

static void setup(void) { fork_reset_register(after_fork_child); }

static int reserve(void **arr, size_t *cap, size_t n, size_t elem)
{
  if (n < *cap) return 0;
  size_t ncap = *cap ? *cap * 2 : 64;
  void *p = realloc(*arr, ncap * elem);
  if (!p) return -1;
  *arr = p;
  *cap = ncap;
  return 0;
}

/* First index entry whose handle is >= h. */
static size_t index_lower(uint64_t h)
{
  size_t lo = 0, hi = nindex;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (index_[mid]->handle < h) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

static struct vmm_alloc *index_find(uint64_t h)
{
  size_t i = index_lower(h);
  return i < nindex && index_[i]->handle == h ? index_[i] : NULL;
}

/* A value the driver hands out now means this allocation: an older record under it loses it. */
static int index_put(struct vmm_alloc *a)
{
  size_t i = index_lower(a->handle);
  if (i < nindex && index_[i]->handle == a->handle) {
    index_[i]->indexed = 0;
    index_[i] = a;
  } else {
    if (reserve((void **)&index_, &capindex, nindex, sizeof *index_)) return -1;
    memmove(&index_[i + 1], &index_[i], (nindex - i) * sizeof *index_);
    index_[i] = a;
    nindex++;
  }
  a->indexed = 1;
  return 0;
}

static void index_drop(struct vmm_alloc *a)
{
  size_t i = index_lower(a->handle);
  if (a->indexed && i < nindex && index_[i] == a) {
    memmove(&index_[i], &index_[i + 1], (nindex - i - 1) * sizeof *index_);
    nindex--;
  }
  a->indexed = 0;
}

/* First mapping whose va is >= va. */
static size_t maps_lower(uint64_t va)
{
  size_t lo = 0, hi = nmaps;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (maps[mid].va < va) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/* Called with the lock held when a use of a ends: the charge goes back at the last one. */
static void settle(struct vmm_alloc *a)
{
  if (a->refs || a->maps) return;
  index_drop(a);
  budget_release(a->dev, a->size);
  free(a);
}

int vmm_track_create(uint64_t handle, uint64_t size, int dev)
{
  pthread_once(&once, setup);
  struct vmm_alloc *a = malloc(sizeof *a);
  if (!a) return -1;
  *a = (struct vmm_alloc){handle, size, dev, 0, 1, 0};
  pthread_mutex_lock(&lock);
  int rc = index_put(a);
  pthread_mutex_unlock(&lock);
  if (rc) free(a);
  return rc;
}

/* Inserts m at its place; a mapping it overlaps is stale (the driver just mapped over it, so it
 * was unmapped where we did not see it) and ends. */
static int maps_put(struct vmm_mapping m)
{
  size_t i = maps_lower(m.va);
  while (i > 0 && maps[i - 1].va + maps[i - 1].size > m.va) i--;
  while (i < nmaps && maps[i].va < m.va + m.size) {
    struct vmm_alloc *old = maps[i].a;
    memmove(&maps[i], &maps[i + 1], (nmaps - i - 1) * sizeof *maps);
    nmaps--;
    old->maps--;
    settle(old);
  }
  if (reserve((void **)&maps, &capmaps, nmaps, sizeof *maps)) return -1;
  memmove(&maps[i + 1], &maps[i], (nmaps - i) * sizeof *maps);
  maps[i] = m;
  nmaps++;
  m.a->maps++;
  return 0;
}

int vmm_track_map(uint64_t va, uint64_t size, uint64_t handle)
{
  pthread_mutex_lock(&lock);
  struct vmm_alloc *a = index_find(handle);
  int rc = a && size ? maps_put((struct vmm_mapping){va, size, a}) : 0;
  pthread_mutex_unlock(&lock);
  return rc;
}

void vmm_track_retain(uint64_t addr, uint64_t handle)
{
  pthread_mutex_lock(&lock);
  size_t i = maps_lower(addr + 1);
  if (i > 0 && addr - maps[i - 1].va < maps[i - 1].size) {
    struct vmm_alloc *a = maps[i - 1].a;
    if (!a->indexed) { /* all its handles were released; this one revives it */
      a->handle = handle;
      if (index_put(a)) goto out; /* unrecorded: its release passes through, it stays charged */
    }
    a->refs++;
  }
out:
  pthread_mutex_unlock(&lock);
}

struct vmm_alloc *vmm_track_release_begin(uint64_t handle)
{
  pthread_mutex_lock(&lock);
  struct vmm_alloc *a = index_find(handle);
  if (a && a->refs == 1) index_drop(a);
  pthread_mutex_unlock(&lock);
  return a;
}

void vmm_track_release_end(struct vmm_alloc *a, int ok)
{
  pthread_mutex_lock(&lock);
  if (ok) {
    a->refs--;
    if (!a->refs) index_drop(a);
    settle(a);
  } else if (!a->indexed && a->refs) {
    index_put(a); /* no memory: the handle's next release passes through, it stays charged */
  }
  pthread_mutex_unlock(&lock);
}

size_t vmm_track_unmap_begin(uint64_t va, uint64_t size, struct vmm_mapping **taken)
{
  *taken = NULL;
  pthread_mutex_lock(&lock);
  size_t i = maps_lower(va), j = i;
  while (j < nmaps && maps[j].va - va <= size && maps[j].size <= size - (maps[j].va - va)) j++;
  size_t n = j - i;
  if (n && (*taken = malloc(n * sizeof **taken))) {
    memcpy(*taken, &maps[i], n * sizeof **taken);
    memmove(&maps[i], &maps[j], (nmaps - j) * sizeof *maps);
    nmaps -= n;
  } else {
    n = 0; /* none, or no memory: the mappings stay recorded (charged until mapped over) */
  }
  pthread_mutex_unlock(&lock);
  return n;
}

void vmm_track_unmap_end(struct vmm_mapping *taken, size_t n, int ok)
{
  if (!n) return;
  pthread_mutex_lock(&lock);
  for (size_t k = 0; k < n; k++) {
    if (!ok) {
      taken[k].a->maps--; /* maps_put counts it again; without room it stays counted (charged) */
      if (maps_put(taken[k])) taken[k].a->maps++;
    } else {
      taken[k].a->maps--;
      settle(taken[k].a);
    }
  }
  pthread_mutex_unlock(&lock);
  free(taken);
}
