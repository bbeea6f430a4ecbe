/* The interposer's one pthread_atfork child handler: it runs the resets modules registered.
 *
 * CUDA cannot be used across fork(), and a child is another process with its own budget slot: it
 * must start with none of its parent's contexts, pools, handles or charges, and with every lock
 * free (a parent thread may have held one at the fork; it does not exist in the child). */
#include "fork_reset.h"

#include <pthread.h>

#define MAX_RESETS 16 /* modules with state a child must forget; a dozen today */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static void (*resets[MAX_RESETS])(void);
static int count;
static int installed;

static void in_child(void)
{
  /* Ours first: a parent thread may have been registering at the fork. */
  pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
  lock = fresh;
  int n = __atomic_load_n(&count, __ATOMIC_ACQUIRE);
  for (int i = 0; i < n; i++) resets[i]();
}

void fork_reset_register(void (*reset)(void))
{
  pthread_mutex_lock(&lock);
  int known = 0;
  for (int i = 0; i < count; i++) known |= resets[i] == reset;
  if (!known && count < MAX_RESETS) {
    if (!installed) installed = pthread_atfork(NULL, NULL, in_child) == 0;
    resets[count] = reset; /* written before count: the child reads count first */
    __atomic_store_n(&count, count + 1, __ATOMIC_RELEASE);
  }
  pthread_mutex_unlock(&lock);
}
