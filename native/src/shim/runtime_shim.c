/* gpumem-runtime: the OCI runtime docker runs (registered in daemon.json). It hands every call to
 * the lower runtime with one exec, except:
 *   create  of a container whose spec mentions gpumem: the gpumem agent decides and prepares the
 *           bundle first (agent_client.c; in-process in Node when no agent answers), and if the
 *           lower runtime then fails to create it, nothing of gpumem's stays;
 *   delete  of a container gpumem prepared: its state goes once the container is gone.
 * Where the decision left a kernel-limit marker (driver R615+, cgroup v2), the driver's own limit on
 * the container's cgroup is set once the lower runtime created it and cleared before it deletes it
 * (through the agent, else in Node): a backstop behind the interposer, never a reason to fail.
 * In C, so that a start pays no shell and no grep: a runc call through it costs about one exec.
 * Its settings (the lower runtime, Node, the installation) are in ../etc/gpumem-runtime.conf
 * beside this executable, written by install.sh. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../client/agent_client.h"
#include "../client/agent_protocol.h"
#include "../common/layout.h"
#include "../format/region_fs.h"

struct settings {
  char lower[PATH_MAX], node[PATH_MAX], app[PATH_MAX];
  char state[PATH_MAX]; /* optional: the state root (tests); GPUMEM_STATE_ROOT otherwise */
};

static int fail(const char *what, const char *detail) {
  fprintf(stderr, "gpumem-runtime: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
  return 1;
}

/* "key value" lines; lower, node and app must be there. */
static int read_settings(struct settings *s) {
  snprintf(s->state, sizeof s->state, "%s", GPUMEM_STATE_ROOT);
  char exe[PATH_MAX], path[PATH_MAX + 64];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return -1;
  exe[n] = '\0';
  char *slash = strrchr(exe, '/');
  if (!slash) return -1;
  *slash = '\0';
  snprintf(path, sizeof path, "%s/../etc/gpumem-runtime.conf", exe);
  FILE *f = fopen(path, "re");
  if (!f) return -1;
  char line[PATH_MAX + 32];
  int have = 0;
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = '\0';
    char *v = strchr(line, ' ');
    if (!v) continue;
    *v++ = '\0';
    char *dst = !strcmp(line, "lower") ? s->lower : !strcmp(line, "node") ? s->node : !strcmp(line, "app") ? s->app
              : !strcmp(line, "state") ? s->state : NULL;
    if (dst && strlen(v) < PATH_MAX) {
      strcpy(dst, v);
      have |= dst == s->lower ? 1 : dst == s->node ? 2 : dst == s->app ? 4 : 0;
    }
  }
  fclose(f);
  return have == 7 ? 0 : -1;
}

/* runc's global flags that take a value (the rest are booleans). */
static int global_with_value(const char *a) {
  static const char *const with[] = {"--root", "--log", "--log-format", "--criu", "--rootless"};
  for (size_t i = 0; i < sizeof with / sizeof with[0]; i++)
    if (!strcmp(a, with[i])) return 1;
  return 0;
}

/* runc's rule for ids; it also keeps an id from naming a path outside the state root. */
static int valid_id(const char *id) {
  if (!*id || !strcmp(id, ".") || !strcmp(id, "..") || id[0] == '-') return 0;
  for (const char *p = id; *p; p++)
    if (!isalnum((unsigned char)*p) && !strchr("_+.-", *p)) return 0;
  return 1;
}

/* Runs argv[0] with argv, waits; its exit status (or 128+signal). */
static int run(char *const argv[]) {
  pid_t pid = fork();
  if (pid < 0) return 1;
  if (pid == 0) {
    execv(argv[0], argv);
    _exit(127);
  }
  int st;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR) return 1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* The lower runtime with the same arguments (argv[0] replaced), waited for. */
static int run_lower(const struct settings *s, char **argv) {
  argv[0] = (char *)s->lower;
  return run(argv);
}

/* Does the lower runtime still know the container? (`state ID`, output discarded) */
static int lower_knows(const struct settings *s, const char *root, const char *id) {
  char *argv[6];
  int n = 0;
  argv[n++] = (char *)s->lower;
  if (root) argv[n++] = (char *)"--root", argv[n++] = (char *)root;
  argv[n++] = (char *)"state";
  argv[n++] = (char *)id;
  argv[n] = NULL;
  int out = dup(1), err = dup(2), devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (devnull >= 0) dup2(devnull, 1), dup2(devnull, 2);
  int rc = run(argv);
  if (out >= 0) dup2(out, 1), close(out);
  if (err >= 0) dup2(err, 2), close(err);
  if (devnull >= 0) close(devnull);
  return rc == 0;
}

/* Everything not ours: the lower runtime in this process's place. */
static int exec_lower(const struct settings *s, char **argv) {
  argv[0] = (char *)s->lower;
  execv(s->lower, argv);
  return fail("cannot run the lower runtime", strerror(errno));
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw) {
  (void)st, (void)type, (void)ftw;
  remove(path);
  return 0;
}

/* STATE/name into out; -1 when it would not fit (never a truncated path: it could name another). */
static int state_path(const struct settings *s, const char *name, char *out, size_t size) {
  int n = snprintf(out, size, "%s/%s", s->state, name);
  return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* The container's state directory, never following a link in it; the region's own tmpfs is
 * unmounted first (a mount point cannot be removed). */
static void remove_state(const struct settings *s, const char *id) {
  char dir[2 * PATH_MAX], shared[2 * PATH_MAX + sizeof GPUMEM_SHARED_DIR + 1];
  if (state_path(s, id, dir, sizeof dir) != 0) return;
  snprintf(shared, sizeof shared, "%s/" GPUMEM_SHARED_DIR, dir);
  gpumem_region_fs_unmount(shared);
  nftw(dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static int have_state(const struct settings *s, const char *id) {
  char dir[2 * PATH_MAX];
  struct stat st;
  return state_path(s, id, dir, sizeof dir) == 0 && lstat(dir, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Is `gpumem` followed by '.', '/' or '_' (any case) somewhere in text: a gpumem.io/ key, a GPUMEM_
 * variable, or a near miss of either (gpumem.io.limit, gpumem/limit, gpumem_limit) that the
 * decision must see to refuse or warn about? A mere name (an image or a path called gpumem-...)
 * is not. */
static int names_gpumem_key(const char *text) {
  for (const char *p = text; (p = strcasestr(p, "gpumem")); p += 6)
    if (p[6] == '.' || p[6] == '/' || p[6] == '_') return 1;
  return 0;
}

/* Can the spec give the container a GPU: NVIDIA_VISIBLE_DEVICES (--gpus, NVIDIA's runtime) or a
 * /dev/nvidia node (CDI, --device)? Then the host policy's default may apply, and the agent
 * decides; a container with neither passes with one exec. A mention anywhere counts (an env of a
 * hook, an annotation): deciding one container too many costs a round trip, one too few a limit. */
static int may_have_gpu(const char *text) {
  return strstr(text, "NVIDIA_VISIBLE_DEVICES") != NULL || strstr(text, "/dev/nvidia") != NULL;
}

/* Does the bundle's spec carry anything of gpumem's, or a GPU? Unreadable counts as yes: the
 * decision then says what is wrong. */
static int spec_mentions_gpumem(const char *bundle) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/config.json", bundle);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno != ENOENT; /* no spec: the lower runtime says so itself */
  struct stat st;
  if (fstat(fd, &st) != 0 || st.st_size > (64 << 20)) {
    close(fd);
    return 1;
  }
  char *buf = malloc((size_t)st.st_size + 1);
  ssize_t n = buf ? read(fd, buf, (size_t)st.st_size) : -1;
  close(fd);
  if (n < 0) {
    free(buf);
    return 1;
  }
  buf[n] = '\0';
  int found = names_gpumem_key(buf) || may_have_gpu(buf);
  free(buf);
  return found;
}

/* Node running the TypeScript side in-process (hook/gpumem-runtime.js) with head's n arguments, then
 * rest's nrest; its exit status. */
static int run_node(const struct settings *s, const char *const *head, int n, char **rest, int nrest) {
  char script[PATH_MAX + 64];
  snprintf(script, sizeof script, "%s/dist/hook/gpumem-runtime.js", s->app);
  char **nargv = calloc((size_t)(n + nrest) + 3, sizeof *nargv);
  if (!nargv) return fail("out of memory", NULL);
  int k = 0;
  nargv[k++] = (char *)s->node; /* execv does not write them */
  nargv[k++] = script;
  for (int i = 0; i < n; i++) nargv[k++] = (char *)head[i];
  for (int i = 0; i < nrest; i++) nargv[k++] = rest[i];
  int rc = run(nargv);
  free(nargv);
  return rc;
}

/* The agent decides this command line; when none answers, the same TypeScript in-process (a
 * Node start). 0: go on with the lower runtime. */
static int decide(const struct settings *s, int argc, char **argv) {
  char socket_path[2 * PATH_MAX];
  int rc = state_path(s, GPUMEM_AGENT_SOCKET_NAME, socket_path, sizeof socket_path) == 0
               ? agent_create(socket_path, argc - 1, argv + 1)
               : AGENT_NONE;
  if (rc != AGENT_NONE) return rc;
  return run_node(s, NULL, 0, argv + 1, argc - 1);
}

/* Did the decision leave the kernel-limit marker? One open(): a container without it pays nothing
 * more. */
static int wants_kernel_limit(const struct settings *s, const char *id) {
  char path[3 * PATH_MAX];
  int n = snprintf(path, sizeof path, "%s/%s/" GPUMEM_KERNEL_LIMIT_MARKER, s->state, id);
  if (n < 0 || (size_t)n >= sizeof path) return 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return 0;
  close(fd);
  return 1;
}

/* Sets or clears (op) the driver's own memory limit on the container's cgroup: the agent, else
 * Node. Its outcome is only logged (there, and on stderr): the interposer enforces the budget
 * either way, so neither a start nor a delete waits on it. */
static void kernel_limit(const struct settings *s, const char *op, const char *id) {
  char socket_path[2 * PATH_MAX];
  int rc = state_path(s, GPUMEM_AGENT_SOCKET_NAME, socket_path, sizeof socket_path) == 0
               ? agent_kernel_limit(socket_path, op, id)
               : AGENT_NONE;
  if (rc != AGENT_NONE) return;
  const char *head[] = {"kernel-limit", op, id};
  run_node(s, head, 3, NULL, 0);
}

int main(int argc, char **argv) {
  struct settings s;
  if (read_settings(&s) != 0) return fail("cannot read ../etc/gpumem-runtime.conf beside this program (reinstall gpumem)", NULL);

  /* The subcommand behind runc's global flags. */
  const char *sub = NULL, *root = NULL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (a[0] != '-') {
      sub = a;
      break;
    }
    if (!strncmp(a, "--root=", 7)) root = a + 7;
    else if (global_with_value(a) && i + 1 < argc) {
      if (!strcmp(a, "--root")) root = argv[i + 1];
      i++;
    }
  }
  int create = sub && !strcmp(sub, "create"), delete = sub && !strcmp(sub, "delete");
  int exec_ = sub && !strcmp(sub, "exec");
  /* The id is last in the form engines write (`exec --process FILE ID` too). */
  const char *id = argv[argc - 1];
  if (!(create || delete || exec_) || !valid_id(id)) {
    return exec_lower(&s, argv);
  }
  if (exec_) {
    /* A limited container's exec'd process gets the main process's edits (Docker builds it from
     * its own config, not from the edited spec): fail closed when they cannot be made. */
    if (!have_state(&s, id)) return exec_lower(&s, argv);
    int rc = decide(&s, argc, argv);
    return rc != 0 ? rc : exec_lower(&s, argv);
  }

  if (delete) {
    if (!have_state(&s, id)) {
      return exec_lower(&s, argv);
    }
    /* Cleared while the cgroup is still there: a limit left on a removed cgroup would keep its
     * reservation in the parents. */
    int limited = wants_kernel_limit(&s, id);
    if (limited) kernel_limit(&s, GPUMEM_KERNEL_LIMIT_CLEAR, id);
    int rc = run_lower(&s, argv);
    /* Gone when the lower runtime deleted it, or no longer knows it (deleted before, never made). */
    if (rc == 0 || !lower_knows(&s, root, id)) remove_state(&s, id);
    else if (limited) kernel_limit(&s, GPUMEM_KERNEL_LIMIT_SET, id); /* it lives on: the backstop again */
    return rc;
  }

  /* The bundle: --bundle/-b, else the current directory, as runc does. */
  const char *bundle = ".";
  for (int i = 1; i < argc; i++) {
    if ((!strcmp(argv[i], "--bundle") || !strcmp(argv[i], "-b")) && i + 1 < argc) bundle = argv[++i];
    else if (!strncmp(argv[i], "--bundle=", 9)) bundle = argv[i] + 9;
  }
  if (!spec_mentions_gpumem(bundle)) {
    return exec_lower(&s, argv);
  }
  int rc = decide(&s, argc, argv);
  if (rc != 0) return rc;
  rc = run_lower(&s, argv);
  /* Now that its cgroup exists (runc made it, the container's first process waits in it). */
  if (rc == 0 && wants_kernel_limit(&s, id)) kernel_limit(&s, GPUMEM_KERNEL_LIMIT_SET, id);
  /* The lower runtime made no container: its prepared state would never be deleted (unless the
   * id is a live container's, refused for that reason). */
  if (rc != 0 && !lower_knows(&s, root, id)) remove_state(&s, id);
  return rc;
}
