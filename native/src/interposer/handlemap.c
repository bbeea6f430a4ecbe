/* Open-addressing hash maps from a handle or pointer to its charge, one instance per kind (ptrmap.c
 * is the device pointers'); a child after fork() starts with every map empty, because what it
 * inherits is not its to free. */
#include "handlemap.h"

#include <stdlib.h>

#include "fork_reset.h"

struct handlemap_entry {
  uint64_t key; /* 0 = empty */
  uint64_t size;
  int dev;
};

#define MAX_MAPS 8
static pthread_mutex_t maps_lock = PTHREAD_MUTEX_INITIALIZER;
static struct handlemap *maps[MAX_MAPS];
static int nmaps;

static size_t hash(uint64_t k, size_t mask)
{
  k ^= k >> 33;
  k *= UINT64_C(0xff51afd7ed558ccd);
  k ^= k >> 33;
  return (size_t)k & mask;
}

static void after_fork_child(void)
{
  pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
  for (int i = 0; i < nmaps; i++) {
    maps[i]->lock = fresh;
    maps[i]->slots = NULL; /* the parent's table is left alone: another parent thread may be using it */
    maps[i]->cap = maps[i]->count = 0;
  }
}

static void enlist(struct handlemap *m)
{
  pthread_mutex_lock(&maps_lock);
  if (!m->registered && nmaps < MAX_MAPS) {
    if (nmaps == 0) fork_reset_register(after_fork_child);
    maps[nmaps++] = m;
    m->registered = 1;
  }
  pthread_mutex_unlock(&maps_lock);
}

static int grow(struct handlemap *m)
{
  size_t ncap = m->cap ? m->cap * 2 : 256;
  struct handlemap_entry *t = calloc(ncap, sizeof *t);
  if (!t) return -1;
  for (size_t i = 0; i < m->cap; i++) {
    if (!m->slots[i].key) continue;
    size_t j = hash(m->slots[i].key, ncap - 1);
    while (t[j].key) j = (j + 1) & (ncap - 1);
    t[j] = m->slots[i];
  }
  free(m->slots);
  m->slots = t;
  m->cap = ncap;
  return 0;
}

int handlemap_insert(struct handlemap *m, uint64_t key, uint64_t size, int dev)
{
  if (!key) return -1;
  if (!__atomic_load_n(&m->registered, __ATOMIC_ACQUIRE)) enlist(m);
  pthread_mutex_lock(&m->lock);
  int rc = 0;
  if ((m->count + 1) * 2 > m->cap && grow(m)) rc = -1;
  if (!rc) {
    size_t mask = m->cap - 1, i = hash(key, mask);
    while (m->slots[i].key && m->slots[i].key != key) i = (i + 1) & mask;
    if (!m->slots[i].key) m->count++;
    m->slots[i] = (struct handlemap_entry){key, size, dev};
  }
  pthread_mutex_unlock(&m->lock);
  return rc;
}

int handlemap_take(struct handlemap *m, uint64_t key, uint64_t *size, int *dev)
{
  if (!key) return 0;
  pthread_mutex_lock(&m->lock);
  int found = 0;
  if (m->cap) {
    size_t mask = m->cap - 1, i = hash(key, mask);
    while (m->slots[i].key && m->slots[i].key != key) i = (i + 1) & mask;
    if (m->slots[i].key == key) {
      found = 1;
      *size = m->slots[i].size;
      *dev = m->slots[i].dev;
      /* Backward-shift deletion keeps probe chains intact without tombstones: slots[j] may move
       * to i unless its home lies cyclically in (i, j]. */
      size_t j = i;
      for (;;) {
        m->slots[i].key = 0;
        for (;;) {
          j = (j + 1) & mask;
          if (!m->slots[j].key) goto done;
          size_t home = hash(m->slots[j].key, mask);
          if (i <= j ? (home <= i || home > j) : (home <= i && home > j)) break;
        }
        m->slots[i] = m->slots[j];
        i = j;
      }
    done:
      m->count--;
    }
  }
  pthread_mutex_unlock(&m->lock);
  return found;
}
