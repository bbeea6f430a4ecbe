/* A standalone process tree's private state dir: made when the library is loaded by a process
 * started with GPUMEM_LIMIT (before main, so a shell that never touches CUDA passes it on),
 * found by every process of the tree through the environment, and removed by the last of them
 * to leave it. */
#include "standalone_dir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../format/accounting_ledger.h"
#include "say.h"
#include "state_dir.h"

extern char **environ;

static pid_t owner_pid; /* the process that created owned_dir */
static char owned_dir[4096];
static int private_tree; /* the state dir is a standalone tree's: its last process removes it */

int standalone_dir_wanted(void)
{
  for (char **e = environ; e && *e; e++)
    if (strncmp(*e, "GPUMEM_LIMIT", 12) == 0) return 1;
  return 0;
}

static int host_configured(void)
{
  return access(GPUMEM_STATE_ROOT STATE_CONFIG, F_OK) == 0 || errno != ENOENT;
}

int standalone_dir_make(char *err, int errlen)
{
  const char *tmp = getenv("TMPDIR");
  if (!tmp || !*tmp) tmp = "/tmp";
  char dir[4096], mark[4200];
  snprintf(dir, sizeof dir, "%s/gpumem.XXXXXX", tmp);
  if (!mkdtemp(dir)) {
    snprintf(err, (size_t)errlen, "cannot create a state directory in %s: %s", tmp,
             strerror(errno));
    return -1;
  }
  snprintf(mark, sizeof mark, "%s" STATE_STANDALONE_MARK, dir);
  int fd = open(mark, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0) close(fd);
  snprintf(owned_dir, sizeof owned_dir, "%s", dir);
  owner_pid = getpid();
  setenv("GPUMEM_STATE_DIR", dir, 1);
  return 0;
}

const char *standalone_dir_owned(void) { return owned_dir; }

void standalone_dir_note(const char *state)
{
  char mark[4200];
  snprintf(mark, sizeof mark, "%s" STATE_STANDALONE_MARK, state);
  private_tree = access(mark, F_OK) == 0;
}

/* At load, before main: a process started with GPUMEM_LIMIT (and no host config) makes the
 * private dir at once and exports it, so every process it starts, directly or through a shell
 * that never touches CUDA, shares its one budget (README: "one budget per process tree"). */
__attribute__((constructor)) static void standalone_tree(void)
{
  const char *dir = getenv("GPUMEM_STATE_DIR");
  if ((dir && *dir) || !standalone_dir_wanted() || host_configured()) return;
  char err[600];
  if (standalone_dir_make(err, sizeof err)) gpumem_say(err); /* init refuses allocations then */
}

static void remove_private_dir(const char *dir)
{
  static const char *const files[] = {STATE_ACCOUNTING, STATE_SHARED,
                                      STATE_STANDALONE_MARK, ""};
  char path[4200];
  for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
    snprintf(path, sizeof path, "%s%s", dir, files[i]);
    if (remove(path) && errno != ENOENT && errno != ENOTDIR) break;
  }
}

static int others_hold_slots(const char *dir, struct gpumem_region *attached)
{
  char path[4200], err[200];
  snprintf(path, sizeof path, "%s" STATE_ACCOUNTING, dir);
  int missing;
  struct gpumem_region *r = attached ? attached : gpumem_accounting_attach(path, &missing, err,
                                                                           sizeof err);
  if (!r) return 0;
  gpumem_accounting_reclaim(r);
  int live = 0;
  for (int i = 0; i < GPUMEM_MAX_SLOTS; i++)
    if (__atomic_load_n(&r->slots[i].pid, __ATOMIC_RELAXED) > 0) live++;
  if (r != attached) munmap(r, sizeof *r);
  return live > 0;
}

/* Each process leaving checks whether any other (living) process still holds a slot there. */
void standalone_dir_leave(struct gpumem_region *attached)
{
  const char *dir = private_tree ? getenv("GPUMEM_STATE_DIR")
                    : owner_pid == getpid() ? owned_dir : NULL;
  if (dir && *dir && !others_hold_slots(dir, attached)) remove_private_dir(dir);
}
