/* Memory the driver takes without an allocation call (loaded code, local memory, the device
 * heap, its own bookkeeping), charged from NVML's per-process figure; see README.md,
 * "Driver-taken memory". */
#ifndef GPUMEM_RECONCILE_H
#define GPUMEM_RECONCILE_H

#include <stdint.h>

/* A context of ours on dev now exists (bytes: what it was measured to cost). Sizes the room its
 * first launch needs and the headroom held back, and measures; -1 when that does not fit the
 * budget (nothing is then held back: the caller destroys the context and refuses). */
int reconcile_context_up(int dev, uint64_t bytes);

/* What the first kernel launch on dev must find free for the code it loads (0 once one ran). */
uint64_t reconcile_first_launch_need(int dev);

/* The first kernel launch on dev returned (what it loaded is measured right after). */
void reconcile_first_launch(int dev);

/* One of our contexts on dev is gone; with the last, dev's driver-taken charge goes too. */
void reconcile_context_down(int dev);

/* Before a call that makes the driver take bytes on dev (a stack, heap or FIFO limit raised,
 * local memory a kernel needs): reserved against the budget; -1 = refused, do not call. */
int reconcile_provision(int dev, uint64_t bytes);

/* The call failed: the provision is returned. */
void reconcile_unprovision(int dev, uint64_t bytes);

/* Measures dev now and charges what NVML shows beyond our allocations. */
enum reconcile_how {
  RECONCILE_FORCE,  /* charged whatever the budget says: the driver already took it */
  RECONCILE_STRICT, /* -1 when the growth does not fit (charge left as it was), for callers
                     * that can still undo what grew */
  RECONCILE_FREED,  /* the caller just gave driver memory back: a lower figure holds at once */
  RECONCILE_TICK    /* the background thread: growth must show in two ticks in a row */
};
int reconcile_now(int dev, int how);

/* Managed memory charged on dev (+) or freed (-): NVML's per-process figure leaves it out. */
void reconcile_note_managed(int dev, int64_t bytes);

#endif
