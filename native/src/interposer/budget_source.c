/* Finds the budget at the first wrapped call (this library is preloaded into every process of a
 * container and most of them never touch a GPU): the host's config file, else a state dir of the
 * caller's choosing with a config or GPUMEM_LIMIT* in it, else none. */
#include "budget_source.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "env_limits.h"
#include "say.h"
#include "standalone_dir.h"
#include "state_dir.h"

/* Is there a directory where the host mounts a container's config? open(), not stat(): the
 * stat family carries GLIBC_2.33 versions on the build machine, newer than the oldest images. */
static int host_config_dir_mounted(void)
{
  int fd = open(GPUMEM_STATE_ROOT "/" GPUMEM_CONFIG_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return 0;
  close(fd);
  return 1;
}

void budget_source_find(struct budget_source *s)
{
  char err[600];
  s->env_percent = 0;
  /* A container the host configured has its config here, read-only: then nothing the
   * container controls (GPUMEM_STATE_DIR, GPUMEM_LIMIT) is consulted, so no variable an image
   * or a process sets can point the interposer elsewhere or switch the limit off. */
  snprintf(s->state, sizeof s->state, "%s", GPUMEM_STATE_ROOT);
  snprintf(s->config_path, sizeof s->config_path, "%s" STATE_CONFIG, s->state);
  int rc = gpumem_config_load(s->config_path, &s->cfg, err, sizeof err);
  if (rc == 1 && host_config_dir_mounted()) {
    /* The host mounted this container's config directory and the file in it is gone (the
     * host's state wiped under a running container): never unlimited, refuse everything. On a
     * host the directory never exists: no container may be called "config". */
    gpumem_say("this container's budget (" GPUMEM_STATE_ROOT "/" GPUMEM_CONFIG_FILE
               ") is gone from the host: every GPU allocation is refused");
    s->mode = BUDGET_CLOSED;
    return;
  }
  if (rc == 1) { /* no host config: standalone, a state dir of the caller's choosing */
    const char *dir = getenv("GPUMEM_STATE_DIR");
    int have_dir = dir && *dir;
    if (!have_dir && !standalone_dir_wanted()) { /* nothing asked for: pure pass-through */
      s->mode = BUDGET_OFF;
      return;
    }
    if (!have_dir && standalone_dir_make(err, sizeof err)) {
      gpumem_say(err);
      s->mode = BUDGET_CLOSED;
      return;
    }
    snprintf(s->state, sizeof s->state, "%s", have_dir ? dir : standalone_dir_owned());
    snprintf(s->config_path, sizeof s->config_path, "%s" STATE_CONFIG, s->state);
    rc = gpumem_config_load(s->config_path, &s->cfg, err, sizeof err);
    if (rc == 1) { /* no config there either: the environment */
      int env = env_limits_load(&s->cfg); /* 1 found, 0 none, -1 invalid (reported) */
      s->env_percent = env > 0 && env_limits_have_percent();
      if (env <= 0) {
        s->mode = env < 0 ? BUDGET_CLOSED : BUDGET_OFF;
        return;
      }
      mkdir(s->state, 0755);
    }
    standalone_dir_note(s->state);
  }
  if (rc < 0) {
    gpumem_say(err);
    s->mode = BUDGET_CLOSED;
    return;
  }
  s->mode = BUDGET_ENFORCE;
}
