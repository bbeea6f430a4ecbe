/* Open-addressing hash map from device pointer to (size, device), guarded by one process-local
 * mutex: allocation and free are ~60 us in the driver, so a short lock here costs nothing. */
#include "ptrmap.h"

#include <pthread.h>
#include <stdlib.h>

struct entry {
  uint64_t ptr; /* 0 = empty: the driver never returns a null device pointer on success */
  uint64_t size;
  int dev;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct entry *slots;
static size_t cap, count; /* cap is a power of two */

static size_t hash(uint64_t p, size_t mask)
{
  p ^= p >> 33;
  p *= UINT64_C(0xff51afd7ed558ccd);
  p ^= p >> 33;
  return (size_t)p & mask;
}

static void put(struct entry *t, size_t mask, struct entry e)
{
  size_t i = hash(e.ptr, mask);
  while (t[i].ptr && t[i].ptr != e.ptr) i = (i + 1) & mask;
  t[i] = e;
}

static int grow(void)
{
  size_t ncap = cap ? cap * 2 : 1024;
  struct entry *t = calloc(ncap, sizeof *t);
  if (!t) return -1;
  for (size_t i = 0; i < cap; i++)
    if (slots[i].ptr) put(t, ncap - 1, slots[i]);
  free(slots);
  slots = t;
  cap = ncap;
  return 0;
}

int ptrmap_insert(uint64_t ptr, uint64_t size, int dev)
{
  pthread_mutex_lock(&lock);
  int rc = 0;
  if ((count + 1) * 2 > cap && grow()) rc = -1; /* keep load under 1/2 */
  if (!rc) {
    size_t mask = cap - 1, i = hash(ptr, mask);
    while (slots[i].ptr && slots[i].ptr != ptr) i = (i + 1) & mask;
    if (!slots[i].ptr) count++;
    slots[i] = (struct entry){ptr, size, dev};
  }
  pthread_mutex_unlock(&lock);
  return rc;
}

int ptrmap_take(uint64_t ptr, uint64_t *size, int *dev)
{
  if (!ptr) return 0;
  pthread_mutex_lock(&lock);
  int found = 0;
  if (cap) {
    size_t mask = cap - 1, i = hash(ptr, mask);
    while (slots[i].ptr && slots[i].ptr != ptr) i = (i + 1) & mask;
    if (slots[i].ptr == ptr) {
      found = 1;
      *size = slots[i].size;
      *dev = slots[i].dev;
      /* Backward-shift deletion keeps probe chains intact without tombstones. */
      size_t j = i;
      for (;;) {
        slots[i].ptr = 0;
        for (;;) {
          j = (j + 1) & mask;
          if (!slots[j].ptr) goto done;
          size_t home = hash(slots[j].ptr, mask);
          /* slots[j] may move to i unless its home lies cyclically in (i, j]. */
          if (i <= j ? (home <= i || home > j) : (home <= i && home > j)) break;
        }
        slots[i] = slots[j];
        i = j;
      }
    done:
      count--;
    }
  }
  pthread_mutex_unlock(&lock);
  return found;
}

void ptrmap_reset_after_fork(void)
{
  pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
  lock = fresh;
  slots = NULL; /* the parent's table is left alone: another parent thread may have been using it */
  cap = count = 0;
}
