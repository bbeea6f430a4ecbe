/* Driver-taken memory. NVML's per-process figure counts all a process holds on a device; what
 * it shows beyond what this process charged for allocations and contexts is what the driver
 * took on its own, and is charged to the slot as its driver-taken part. Measured after a
 * context is created, after code is loaded (module and library loads, the first launch of each
 * kernel), after a limit is raised, and every RECONCILE_MS from a background thread. What cannot
 * be refused when it happens (code loaded lazily inside a launch) is bounded by a headroom held
 * back per context and by the room a process's first launch must find (launch.c), both sized
 * from the context's measured cost. What it measures against is the process's own record of its
 * charges (budget_own_charge), never the numbers in its slot, which the container can write. See
 * README.md, "Driver-taken memory". */
#include "reconcile.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../format/config.h"
#include "budget.h"
#include "fork_reset.h"
#include "nvml_device.h"
#include "nvml_library.h"
#include "say.h"

#define RECONCILE_MS 100
#define LOWER_READINGS 3
#define LOWER_SPAN_MS 200 /* ...spread over at least this long: an allocation is in flight for less */
/* Per context: the first kernel launch of a process loads the bulk of its code (~100-140 MiB
 * for PyTorch; an H200 context costs ~520 MiB), so it must find RESERVE of the context's cost
 * free (launch.c refuses it otherwise); HEADROOM of it is held back above what was measured,
 * for a later kernel's code between its launch and the measurement right after. 162 and 16 MiB
 * for an H200's context. */
#define RESERVE_NUM 5
#define RESERVE_DEN 16
#define HEADROOM_DEN 32
/* A context that costs less has no lazily loaded code worth holding back for (real contexts
 * cost ~500 MiB; the fake driver's, a few MiB): nothing is held back beyond what is measured. */
#define RESERVE_MIN_CONTEXT (UINT64_C(64) << 20)

struct device_state {
  int contexts;         /* our live contexts on the device */
  int launched;         /* a kernel ran on it (for the process's life): no more first-launch room */
  uint64_t reserve;     /* room the process's first launch must find free */
  uint64_t headroom;    /* held back above the measured figure */
  uint64_t pending;     /* provisioned growth that NVML has not shown yet */
  uint64_t excess;      /* NVML's figure beyond our visible charges, as charged */
  uint64_t lower;       /* the highest of the readings below it since the last one at or above */
  int lower_streak;     /* how many readings in a row were below it */
  int64_t lower_since;  /* when the first of them was taken (ms, monotonic) */
  uint64_t tick_prev;   /* the background thread's previous reading */
  uint64_t managed;     /* managed bytes charged: not in NVML's per-process figure */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct device_state devs[GPUMEM_MAX_GPUS];
static int unseen_said;

static pthread_once_t thread_once = PTHREAD_ONCE_INIT;
static pthread_t thread;
static int thread_running;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static int stopping;

static int in_range(int dev) { return dev >= 0 && dev < GPUMEM_MAX_GPUS; }

static int64_t now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void note_unseen(void)
{
  if (unseen_said) return;
  unseen_said = 1;
  budget_mark_driver_unseen();
  gpumem_say("NVML shows no per-process memory for this process (driver older than 565, or no "
             "NVML): memory the driver takes without an allocation call is not charged");
}

/* What the driver-taken charge should be now, from a reading of NVML; *seen = 0 when NVML
 * could not tell. The state the reading leads to goes to *next, for the caller to keep only if
 * the charge is taken. freed: the caller just gave memory back to the driver (a module it
 * unloaded), so a lower reading is believed at once. */
static uint64_t target_locked(int dev, int how, int *seen, struct device_state *next)
{
  int freed = how == RECONCILE_FREED;
  struct device_state *d = next;
  *d = devs[dev];
  const struct nvml_library *n = nvml_library();
  nvmlDevice_t h;
  uint64_t proc = 0;
  *seen = n && nvml_device_handle(n, dev, &h) == 0 && nvml_device_process_used(n, h, &proc) == 1;
  if (!*seen) return d->pending; /* no measurement: only what calls told us they would take */
  uint64_t used, driver;
  budget_own_charge(dev, &used, &driver);
  uint64_t explicit_ = used - driver;
  uint64_t visible = explicit_ > d->managed ? explicit_ - d->managed : 0;
  uint64_t excess = proc > visible ? proc - visible : 0;
  if (how == RECONCILE_TICK) {
    /* Unprompted growth must show in two ticks in a row: a reading taken while another thread's
     * call is between the driver and its charge (a pitch wider than reserved, a pool step) is
     * high for microseconds. What calls make the driver take is measured by those calls. */
    uint64_t prev = d->tick_prev;
    d->tick_prev = excess;
    if (excess > d->excess) excess = prev > d->excess ? (prev < excess ? prev : excess) : d->excess;
  }
  if (excess >= d->excess || freed) {
    /* What grew since the last reading is (at least in part) what was provisioned for. */
    uint64_t grew = excess > d->excess ? excess - d->excess : 0;
    d->pending = d->pending > grew ? d->pending - grew : 0;
    d->excess = excess;
    d->lower_streak = 0;
  } else {
    /* A reading below can be an allocation in flight (charged, not yet in NVML's figure):
     * believed only when LOWER_READINGS in a row, over LOWER_SPAN_MS, say so. Code and local
     * memory rarely shrink. */
    int64_t now = now_ms();
    if (!d->lower_streak) d->lower_since = now;
    d->lower = d->lower_streak++ ? (excess > d->lower ? excess : d->lower) : excess;
    if (d->lower_streak >= LOWER_READINGS && now - d->lower_since >= LOWER_SPAN_MS) {
      d->excess = d->lower;
      d->lower_streak = 0;
    }
  }
  uint64_t t = d->excess + d->pending;
  if (d->contexts) t += d->headroom;
  return t;
}

static int reconcile_locked(int dev, int how)
{
  int seen;
  struct device_state next;
  uint64_t t = target_locked(dev, how, &seen, &next);
  if (!seen && devs[dev].contexts) note_unseen();
  int rc = budget_set_driver(dev, t, how == RECONCILE_STRICT);
  if (rc == 0) devs[dev] = next;
  return rc;
}

int reconcile_now(int dev, int how)
{
  if (!in_range(dev) || budget_mode() != BUDGET_ENFORCE) return 0;
  pthread_mutex_lock(&lock);
  int rc = reconcile_locked(dev, how);
  pthread_mutex_unlock(&lock);
  return rc;
}

/* ---- the background thread --------------------------------------------------------------- */

static void *run(void *arg)
{
  (void)arg;
  pthread_mutex_lock(&lock);
  while (!stopping) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += RECONCILE_MS * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
      until.tv_sec++;
      until.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&wake, &lock, &until);
    if (stopping) break;
    for (int dev = 0; dev < GPUMEM_MAX_GPUS; dev++)
      if (devs[dev].contexts) reconcile_locked(dev, RECONCILE_TICK);
  }
  pthread_mutex_unlock(&lock);
  return NULL;
}

/* exit() runs atexit handlers before libraries' destructors: the thread is stopped while NVML
 * is still there to be called. */
static void stop_thread(void)
{
  pthread_mutex_lock(&lock);
  int was = thread_running;
  stopping = 1;
  thread_running = 0;
  pthread_cond_signal(&wake);
  pthread_mutex_unlock(&lock);
  if (was) pthread_join(thread, NULL);
}

/* fork() while the thread is inside NVML would leave the child with NVML's locks held. These two
 * halves are installed with the thread itself; the child's half is a reset like every module's. */
static void before_fork(void) { pthread_mutex_lock(&lock); }
static void after_fork_parent(void) { pthread_mutex_unlock(&lock); }
static void after_fork_child(void)
{
  pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
  pthread_cond_t fresh_cond = PTHREAD_COND_INITIALIZER;
  lock = fresh;
  wake = fresh_cond;
  memset(devs, 0, sizeof devs); /* the child has none of the parent's contexts */
  thread_running = 0;           /* threads do not survive fork */
  stopping = 0;
  pthread_once_t once = PTHREAD_ONCE_INIT;
  thread_once = once;
}

static void start_thread(void)
{
  static int registered;
  if (!registered) {
    registered = 1;
    pthread_atfork(before_fork, after_fork_parent, NULL);
    fork_reset_register(after_fork_child);
    atexit(stop_thread);
  }
  /* The thread takes no signals: they stay the program's threads' business. */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  if (pthread_create(&thread, NULL, run, NULL) == 0) thread_running = 1;
  pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* ---- contexts, provisions, managed memory ----------------------------------------------- */

int reconcile_context_up(int dev, uint64_t bytes)
{
  if (!in_range(dev) || budget_mode() != BUDGET_ENFORCE) return 0;
  pthread_mutex_lock(&lock);
  struct device_state *d = &devs[dev];
  d->contexts++;
  int big = bytes >= RESERVE_MIN_CONTEXT;
  uint64_t reserve = big ? bytes / RESERVE_DEN * RESERVE_NUM : 0;
  uint64_t headroom = big ? bytes / HEADROOM_DEN : 0;
  if (!d->launched && reserve > d->reserve) d->reserve = reserve;
  if (headroom > d->headroom) d->headroom = headroom;
  int rc = reconcile_locked(dev, RECONCILE_STRICT);
  if (rc) d->contexts--;
  pthread_mutex_unlock(&lock);
  if (!rc) pthread_once(&thread_once, start_thread);
  return rc;
}

uint64_t reconcile_first_launch_need(int dev)
{
  if (!in_range(dev)) return 0;
  pthread_mutex_lock(&lock);
  uint64_t need = devs[dev].launched ? 0 : devs[dev].reserve;
  pthread_mutex_unlock(&lock);
  return need;
}

void reconcile_first_launch(int dev)
{
  if (!in_range(dev)) return;
  pthread_mutex_lock(&lock);
  devs[dev].launched = 1;
  pthread_mutex_unlock(&lock);
}

void reconcile_context_down(int dev)
{
  if (!in_range(dev)) return;
  pthread_mutex_lock(&lock);
  struct device_state *d = &devs[dev];
  if (d->contexts > 0 && --d->contexts == 0) {
    /* The driver freed what it took for the context's code and local memory with it. */
    d->pending = d->excess = 0;
    d->reserve = d->headroom = 0;
    budget_set_driver(dev, 0, 0);
  }
  pthread_mutex_unlock(&lock);
}

int reconcile_provision(int dev, uint64_t bytes)
{
  if (!in_range(dev) || bytes == 0) return 0;
  pthread_mutex_lock(&lock);
  uint64_t used, driver;
  budget_own_charge(dev, &used, &driver);
  int rc = budget_set_driver(dev, driver + bytes, 1);
  if (!rc) devs[dev].pending += bytes;
  pthread_mutex_unlock(&lock);
  return rc;
}

void reconcile_unprovision(int dev, uint64_t bytes)
{
  if (!in_range(dev) || bytes == 0) return;
  pthread_mutex_lock(&lock);
  struct device_state *d = &devs[dev];
  d->pending = d->pending > bytes ? d->pending - bytes : 0;
  uint64_t used, driver;
  budget_own_charge(dev, &used, &driver);
  budget_set_driver(dev, driver > bytes ? driver - bytes : 0, 0);
  pthread_mutex_unlock(&lock);
}

void reconcile_note_managed(int dev, int64_t bytes)
{
  if (!in_range(dev)) return;
  pthread_mutex_lock(&lock);
  uint64_t *m = &devs[dev].managed;
  if (bytes >= 0) *m += (uint64_t)bytes;
  else *m = *m > (uint64_t)-bytes ? *m - (uint64_t)-bytes : 0;
  pthread_mutex_unlock(&lock);
}
