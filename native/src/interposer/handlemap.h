/* Process-local maps from a driver handle (VMM allocation handle, CUarray, CUmipmappedArray) to
 * what was charged for it; one map per kind of handle, since handles of two kinds may be equal. */
#ifndef GPUMEM_HANDLEMAP_H
#define GPUMEM_HANDLEMAP_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

struct handlemap_entry;

struct handlemap {
  pthread_mutex_t lock;
  struct handlemap_entry *slots;
  size_t cap, count; /* cap is a power of two */
  int registered;    /* on the list that is emptied in a child after fork() */
};

#define HANDLEMAP_INIT {PTHREAD_MUTEX_INITIALIZER, NULL, 0, 0, 0}

/* 0, or -1 when memory for the map could not be found or key is 0 (0 marks an empty slot). */
int handlemap_insert(struct handlemap *m, uint64_t key, uint64_t size, int dev);

/* Removes key and returns 1 with its size and device, or 0 if it was never charged. */
int handlemap_take(struct handlemap *m, uint64_t key, uint64_t *size, int *dev);

#endif
