/* The accounting reader's allocations in the fuzz build (compiled with -Dcalloc=fuzz_calloc etc.):
 * ASan gives every 1 MiB region copy a fresh mapping, and its page faults made a run 50 times
 * slower. Here one buffer of each size is kept and handed out again, with the same checks: an
 * access past the requested size hits ASan's redzone, and a freed buffer stays poisoned until
 * it is handed out again. */
#include <sanitizer/asan_interface.h>
#include <stdlib.h>
#include <string.h>

struct cached {
  void *p;
  size_t size;
  int in_use;
};
static struct cached cache[4];

static void *take(size_t size, int zero)
{
  for (int i = 0; i < 4; i++) {
    struct cached *c = &cache[i];
    if (!c->p) {
      c->p = malloc(size); /* ASan's own: its redzone follows exactly size bytes */
      if (!c->p) return NULL;
      c->size = size;
    }
    if (c->size != size || c->in_use) continue;
    c->in_use = 1;
    ASAN_UNPOISON_MEMORY_REGION(c->p, size);
    if (zero) memset(c->p, 0, size);
    else memset(c->p, 0xa5, size); /* malloc's contents are unknown: never zero by luck */
    return c->p;
  }
  return zero ? calloc(1, size) : malloc(size);
}

void *fuzz_calloc(size_t n, size_t size) { return n && size > (size_t)-1 / n ? NULL : take(n * size, 1); }
void *fuzz_malloc(size_t size) { return take(size, 0); }

void fuzz_free(void *p)
{
  for (int i = 0; i < 4; i++)
    if (cache[i].p == p && p) {
      if (!cache[i].in_use) abort(); /* a double free */
      cache[i].in_use = 0;
      ASAN_POISON_MEMORY_REGION(p, cache[i].size);
      return;
    }
  free(p);
}
