/* The map from device pointer to what was charged for it: one instance of handlemap.c's map.
 * A short lock there costs nothing beside the driver's ~60 us allocation and free. */
#include "ptrmap.h"

#include "handlemap.h"

static struct handlemap pointers = HANDLEMAP_INIT;

int ptrmap_insert(uint64_t ptr, uint64_t size, int dev)
{
  return handlemap_insert(&pointers, ptr, size, dev);
}

int ptrmap_take(uint64_t ptr, uint64_t *size, int *dev)
{
  return handlemap_take(&pointers, ptr, size, dev);
}
