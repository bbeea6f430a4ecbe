/* Finds the budget (host config file, else GPUMEM_LIMIT), attaches the shared accounting region
 * and joins it; all at the first wrapped call, because this library is preloaded into every
 * process of a container and most of them never touch a GPU. */
#include "budget.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../format/accounting.h"
#include "../format/config.h"
#include "../format/size.h"
#include "ptrmap.h"

#define DEFAULT_STATE_DIR "/run/gpumem"

extern char **environ;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static enum budget_mode mode = BUDGET_OFF;
static struct gpumem_config cfg;
static struct gpumem_region *region;
static int slot = -1;
static pthread_mutex_t join_lock = PTHREAD_MUTEX_INITIALIZER;
static pid_t owner_pid; /* standalone: the process that created owned_dir removes it */
static char owned_dir[4096];

/* One line to stderr; write(2) rather than stdio so nothing is buffered or reentered. */
static void say(const char *what)
{
  char line[768];
  int n = snprintf(line, sizeof line, "gpumem: %s\n", what);
  if (n > (int)sizeof line - 1) n = (int)sizeof line - 1;
  ssize_t ignored = write(2, line, (size_t)n);
  (void)ignored;
}

/* GPUMEM_LIMIT and GPUMEM_LIMIT_<i>: 1 = some found, 0 = none, -1 = invalid (reported). */
static int limits_from_env(struct gpumem_config *c)
{
  int found = 0;
  for (char **e = environ; e && *e; e++) {
    const char *s = *e;
    if (strncmp(s, "GPUMEM_LIMIT", 12) != 0) continue;
    const char *eq = strchr(s, '=');
    if (!eq || eq[1] == '\0') continue; /* empty means unset */
    int dev = -1;
    if (eq != s + 12) {
      if (s[12] != '_' || eq == s + 13) continue;
      dev = 0;
      for (const char *p = s + 13; p < eq; p++) {
        if (*p < '0' || *p > '9' || dev >= GPUMEM_MAX_GPUS) { dev = -2; break; }
        dev = dev * 10 + (*p - '0');
      }
      if (dev < 0 || dev >= GPUMEM_MAX_GPUS) continue; /* not ours, e.g. GPUMEM_LIMIT_X */
    }
    uint64_t bytes;
    if (gpumem_size_parse(eq + 1, &bytes, NULL, 0)) {
      char msg[600];
      snprintf(msg, sizeof msg, "%.*s=\"%.200s\" is not a size; " GPUMEM_SIZE_HELP,
               (int)(eq - s), s, eq + 1);
      say(msg);
      return -1;
    }
    if (dev < 0) c->limit_all = bytes;
    else c->limit_per_gpu[dev] = bytes;
    found = 1;
  }
  return found;
}

/* Standalone: a private state dir that the whole process tree finds through the environment. */
static int make_private_dir(char *err, int errlen)
{
  const char *tmp = getenv("TMPDIR");
  if (!tmp || !*tmp) tmp = "/tmp";
  char dir[4096], sub[4200];
  snprintf(dir, sizeof dir, "%s/gpumem.XXXXXX", tmp);
  if (!mkdtemp(dir)) {
    snprintf(err, (size_t)errlen, "cannot create a state directory in %s: %s", tmp,
             strerror(errno));
    return -1;
  }
  snprintf(owned_dir, sizeof owned_dir, "%s", dir);
  owner_pid = getpid();
  snprintf(sub, sizeof sub, "%s/config", dir);
  mkdir(sub, 0755);
  snprintf(sub, sizeof sub, "%s/config/gpumem.conf", dir);
  if (gpumem_config_store(sub, &cfg, err, errlen)) return -1;
  setenv("GPUMEM_STATE_DIR", dir, 1);
  return 0;
}

static struct gpumem_region *open_region(const char *state, char *err, int errlen)
{
  char path[4200];
  snprintf(path, sizeof path, "%s/shared", state);
  mkdir(path, 0777); /* usually there already; EEXIST is fine */
  snprintf(path, sizeof path, "%s/shared/accounting", state);
  int missing;
  struct gpumem_region *r = gpumem_accounting_attach(path, &missing, err, errlen);
  if (!r && missing) {
    /* Several processes may get here at once: create links a complete file or loses the race. */
    if (gpumem_accounting_create_file(path, 0, err, errlen)) return NULL;
    r = gpumem_accounting_attach(path, &missing, err, errlen);
  }
  return r;
}

static int join(void)
{
  pthread_mutex_lock(&join_lock);
  if (slot < 0) {
    pid_t me = getpid();
    slot = gpumem_accounting_join(region, me, gpumem_process_start_time(me));
  }
  int s = slot;
  pthread_mutex_unlock(&join_lock);
  return s;
}

static void after_fork_child(void)
{
  pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
  join_lock = fresh;
  slot = -1; /* the child is another process: it joins on its first allocation */
  ptrmap_reset_after_fork();
}

static void init(void)
{
  char err[600];
  const char *dir = getenv("GPUMEM_STATE_DIR");
  int have_dir = dir && *dir;
  char state[4096], path[4200];
  snprintf(state, sizeof state, "%s", have_dir ? dir : DEFAULT_STATE_DIR);
  snprintf(path, sizeof path, "%s/config/gpumem.conf", state);
  int rc = gpumem_config_load(path, &cfg, err, sizeof err);
  if (rc < 0) {
    say(err);
    mode = BUDGET_CLOSED;
    return;
  }
  if (rc == 1) { /* no host config: environment */
    int env = limits_from_env(&cfg);
    if (env <= 0) {
      mode = env < 0 ? BUDGET_CLOSED : BUDGET_OFF;
      return;
    }
    if (!have_dir) {
      if (make_private_dir(err, sizeof err)) {
        say(err);
        mode = BUDGET_CLOSED;
        return;
      }
      snprintf(state, sizeof state, "%s", owned_dir);
    } else {
      mkdir(state, 0755);
    }
  }
  region = open_region(state, err, sizeof err);
  if (!region) {
    say(err);
    mode = BUDGET_CLOSED;
    return;
  }
  if (join() < 0) {
    say("accounting region has no free process slot (1024 processes); refusing allocations");
    mode = BUDGET_CLOSED;
    return;
  }
  pthread_atfork(NULL, NULL, after_fork_child);
  mode = BUDGET_ENFORCE;
}

enum budget_mode budget_mode(void)
{
  pthread_once(&once, init);
  return mode;
}

int budget_reserve(int dev, uint64_t bytes)
{
  int s = slot;
  if (s < 0 && (s = join()) < 0) return -1;
  return gpumem_accounting_reserve(region, s, dev, bytes, gpumem_config_budget(&cfg, dev));
}

void budget_release(int dev, uint64_t bytes)
{
  gpumem_accounting_release(region, slot, dev, bytes);
}

uint64_t budget_limit(int dev, uint64_t *used)
{
  *used = 0;
  if (mode != BUDGET_ENFORCE || dev < 0 || dev >= GPUMEM_MAX_GPUS) return 0;
  *used = __atomic_load_n(&region->used[dev], __ATOMIC_RELAXED);
  return gpumem_config_budget(&cfg, dev);
}

static void remove_owned_dir(void)
{
  static const char *const files[] = {"/config/gpumem.conf", "/shared/accounting", "/config",
                                      "/shared", ""};
  char path[4200];
  for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
    snprintf(path, sizeof path, "%s%s", owned_dir, files[i]);
    if (remove(path) && errno != ENOENT) break;
  }
}

/* A clean exit gives the process's charges back at once (the driver frees its memory anyway);
 * a killed process's charges are reclaimed by the next process that joins or runs short. */
__attribute__((destructor)) static void at_exit(void)
{
  if (region && slot >= 0) {
    gpumem_accounting_leave(region, slot);
    slot = -1;
  }
  if (owner_pid && owner_pid == getpid()) remove_owned_dir();
}
