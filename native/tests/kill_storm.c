/* kill-storm: SIGKILLs many allocating `storm` processes inside one container, for issue 8's "after
 * 200 SIGKILLs (zombies included) the accounting is exact and no survivor was blocked over
 * 100 ms". It keeps --workers storm processes running, SIGKILLs a random one after each random
 * gap and starts a replacement; every --zombie-every-th victim is left unreaped, a zombie, until
 * the end. After the last kill it SIGUSR1s the survivors, reads each one's report line (one that
 * gives none within REPORT_S, stuck or gone, counts as hung) and prints one JSON line:
 *
 *   {"kills":200,"killed_allocating":V,"zombies":Z,"survivors":N,"observers":O,"reported":N,
 *    "held":BYTES,"contexts":K,"max_call_us":US,"allocs":A,"refused":R,"info_bad":I,"hung":0}
 *
 * killed_allocating: victims with more than --threads threads when killed, so with their
 * allocating threads running, not still starting (a real driver's own threads count too);
 * zombies: victims seen as 'Z' in /proc/<pid>/stat; held, allocs, refused, info_bad: the
 * survivors' sums; contexts: survivors that got one; max_call_us: the longest one driver call
 * took in any survivor (observers: the first --observers workers, never killed, so they live
 * through every kill and their longest call covers the whole storm). Then it keeps everything
 * as it is (survivors holding, zombies unreaped) for the caller to read the accounting, until
 * SIGTERM or EOF on stdin (`docker exec -i` keeps
 * stdin open), SIGTERMs the survivors, waits for them, reaps the zombies and exits 0. It never
 * calls CUDA itself. Errors: one line on stderr, exit 1.
 *
 *   kill-storm --storm PATH [--workers 6] [--observers 0] [--threads 2] [--kills 200]
 *              [--zombie-every 3] [--seed 1] [--max-block 1m] [--pace-us 200] [--gap-ms 5-30]
 *   (--zombie-every 0: every victim is reaped at once; --gap-ms also takes one number) */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../src/format/size.h"

#define MAX_WORKERS 64
#define REPORT_S 5 /* a survivor's report line: it only has to stop its threads and print */
#define EXIT_S 5   /* a survivor's exit after SIGTERM */
#define LINE_MAX_ 1024

struct options {
  const char *storm, *max_block;
  long workers, observers, threads, kills, zombie_every, pace_us, gap_lo, gap_hi;
  unsigned seed;
};

struct worker {
  pid_t pid;
  int fd; /* its stdout */
  char line[LINE_MAX_];
  size_t len;
  int done; /* a full line, or EOF */
};

static struct worker workers[MAX_WORKERS];
static pid_t *zombies;
static long n_zombies;
static long n_workers;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint32_t next(uint32_t *s)
{
  *s ^= *s << 13;
  *s ^= *s >> 17;
  *s ^= *s << 5;
  return *s;
}

static void sleep_ms(long ms)
{
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) && errno == EINTR) {
  }
}

/* ---- arguments ------------------------------------------------------------------------------ */

/* v as a whole number in [lo, hi]; -1 when it is not one. */
static long number_in(const char *v, long lo, long hi)
{
  char *end;
  errno = 0;
  long n = strtol(v, &end, 10);
  return !*v || *v == '-' || *v == '+' || *end || errno || n < lo || n > hi ? -1 : n;
}

static long whole(const char *flag, const char *v, long lo, long hi)
{
  long n = number_in(v, lo, hi);
  if (n < 0) {
    fprintf(stderr, "kill-storm: %s \"%s\": use a whole number from %ld to %ld\n", flag, v, lo, hi);
    exit(1);
  }
  return n;
}

/* "MIN-MAX" or "N" milliseconds. */
static void gap_range(const char *v, long *lo, long *hi)
{
  char first[32];
  const char *dash = strchr(v, '-');
  size_t n = dash ? (size_t)(dash - v) : strlen(v);
  *lo = *hi = -1;
  if (n < sizeof first) {
    memcpy(first, v, n);
    first[n] = '\0';
    *lo = number_in(first, 0, 60000);
    *hi = dash ? number_in(dash + 1, 0, 60000) : *lo;
  }
  if (*lo < 0 || *hi < *lo) {
    fprintf(stderr, "kill-storm: --gap-ms \"%s\": use MIN-MAX or N milliseconds, from 0 to 60000, "
            "MIN not above MAX (e.g. 5-30)\n", v);
    exit(1);
  }
}

static const char *const flags[] = {"--storm", "--workers", "--observers", "--threads", "--kills",
                                    "--zombie-every", "--seed", "--pace-us", "--max-block", "--gap-ms"};

static void parse(int argc, char **argv, struct options *o)
{
  *o = (struct options){NULL, "1m", 6, 0, 2, 200, 3, 200, 5, 30, 1};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    size_t f = 0;
    while (f < sizeof flags / sizeof *flags && strcmp(a, flags[f])) f++;
    if (f == sizeof flags / sizeof *flags)
      fail("kill-storm: unknown option %s (accepted: --storm PATH, --workers, --observers, --threads, --kills, "
           "--zombie-every, --seed, --pace-us, --max-block SIZE, --gap-ms MIN-MAX)\n", a);
    if (i + 1 >= argc) fail("kill-storm: %s needs a value\n", a);
    const char *v = argv[++i];
    if (!strcmp(a, "--storm")) o->storm = v;
    else if (!strcmp(a, "--workers")) o->workers = whole(a, v, 1, MAX_WORKERS);
    else if (!strcmp(a, "--observers")) o->observers = whole(a, v, 0, MAX_WORKERS);
    else if (!strcmp(a, "--threads")) o->threads = whole(a, v, 1, 64);
    else if (!strcmp(a, "--kills")) o->kills = whole(a, v, 0, 100000);
    else if (!strcmp(a, "--zombie-every")) o->zombie_every = whole(a, v, 0, 100000);
    else if (!strcmp(a, "--seed")) o->seed = (unsigned)whole(a, v, 0, UINT_MAX);
    else if (!strcmp(a, "--pace-us")) o->pace_us = whole(a, v, 0, 1000000);
    else if (!strcmp(a, "--max-block")) {
      uint64_t bytes;
      char err[200];
      if (gpumem_size_parse(v, &bytes, err, sizeof err)) fail("kill-storm: --max-block: %s\n", err);
      o->max_block = v;
    } else {
      gap_range(v, &o->gap_lo, &o->gap_hi);
    }
  }
  if (!o->storm) fail("kill-storm: --storm PATH (the storm program to run) is required\n");
  if (o->observers >= o->workers) fail("kill-storm: --observers %ld leaves no worker to kill (fewer than --workers %ld)\n", o->observers, o->workers);
  if (access(o->storm, X_OK)) fail("kill-storm: --storm %s: %s\n", o->storm, strerror(errno));
}

/* ---- the workers ---------------------------------------------------------------------------- */

/* Ends every process this run started (survivors and zombies) and says why, on error. */
static void fail(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  for (long i = 0; i < n_workers; i++)
    if (workers[i].pid > 0) kill(workers[i].pid, SIGKILL);
  for (long i = 0; i < n_workers; i++)
    if (workers[i].pid > 0) waitpid(workers[i].pid, NULL, 0);
  for (long i = 0; i < n_zombies; i++) waitpid(zombies[i], NULL, 0);
  exit(1);
}

static void start(struct worker *w, const struct options *o, unsigned seed)
{
  int p[2];
  if (pipe2(p, O_CLOEXEC)) fail("kill-storm: pipe: %s\n", strerror(errno));
  char threads[24], seed_s[24], pace[24];
  snprintf(threads, sizeof threads, "%ld", o->threads);
  snprintf(seed_s, sizeof seed_s, "%u", seed);
  snprintf(pace, sizeof pace, "%ld", o->pace_us);
  /* --seconds: a day, so that only SIGUSR1 ends the storm */
  char *args[] = {(char *)o->storm, "--threads", threads, "--seconds", "86400", "--max-block",
                  (char *)o->max_block, "--seed", seed_s, "--pace-us", pace, NULL};
  pid_t parent = getpid(), pid = fork();
  if (pid < 0) fail("kill-storm: fork: %s\n", strerror(errno));
  if (pid == 0) {
    /* A supervisor killed without its SIGTERM must not leave processes holding the budget. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);
    int null = open("/dev/null", O_RDONLY);
    if (null < 0 || dup2(null, 0) < 0 || dup2(p[1], 1) < 0) _exit(127);
    /* SIGTERM and SIGUSR1 stay blocked (as here) through exec: storm unblocks them once its
     * handlers are in place, so one sent to a process still starting waits instead of killing. */
    execv(o->storm, args);
    fprintf(stderr, "kill-storm: exec %s: %s\n", o->storm, strerror(errno));
    _exit(127);
  }
  close(p[1]);
  *w = (struct worker){.pid = pid, .fd = p[0]};
}

/* Field 3 (state) of /proc/<pid>/stat, counted from the last ')' (the name may hold one), and
 * field 20 (threads) to *threads when asked; 0 if unread. */
static char stat_of(pid_t pid, long *threads)
{
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = '\0';
  char *p = strrchr(buf, ')');
  if (!p || p[1] != ' ') return 0;
  char state = p[2];
  if (threads) {
    *threads = 0;
    for (int f = 2; f < 20 && p; f++) p = strchr(p + 1, ' ');
    if (p) *threads = strtol(p + 1, NULL, 10);
  }
  return state;
}

/* Zombies that /proc shows as such; a victim just killed may take a moment to get there. */
static long count_zombies(void)
{
  long seen = 0;
  double until = now() + 1;
  for (long i = 0; i < n_zombies; i++) {
    char s;
    while ((s = stat_of(zombies[i], NULL)) != 'Z' && now() < until) sleep_ms(1);
    seen += s == 'Z';
  }
  return seen;
}

/* Reads the survivors' report lines until each has one, or EOF, or the deadline. */
static void read_reports(void)
{
  double until = now() + REPORT_S;
  for (;;) {
    struct pollfd fds[MAX_WORKERS];
    int map[MAX_WORKERS], n = 0;
    for (long i = 0; i < n_workers; i++)
      if (!workers[i].done) {
        fds[n] = (struct pollfd){.fd = workers[i].fd, .events = POLLIN};
        map[n++] = (int)i;
      }
    double left = until - now();
    if (!n || left <= 0) return;
    if (poll(fds, (nfds_t)n, (int)(left * 1000) + 1) < 0 && errno != EINTR)
      fail("kill-storm: poll: %s\n", strerror(errno));
    for (int k = 0; k < n; k++) {
      if (!fds[k].revents) continue;
      struct worker *w = &workers[map[k]];
      ssize_t got = read(w->fd, w->line + w->len, sizeof w->line - 1 - w->len);
      if (got <= 0) {
        w->done = 1;
        continue;
      }
      w->len += (size_t)got;
      w->line[w->len] = '\0';
      if (strchr(w->line, '\n') || w->len == sizeof w->line - 1) w->done = 1;
    }
  }
}

/* A number field of a storm report line ("held":123), 0 if absent. */
static unsigned long long field(const char *line, const char *name)
{
  char key[64];
  snprintf(key, sizeof key, "\"%s\":", name);
  const char *p = strstr(line, key);
  return p ? strtoull(p + strlen(key), NULL, 10) : 0;
}

/* Waits for the caller to be done reading the accounting: SIGTERM, or EOF (or an error) on stdin. */
static void hold(void)
{
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  int sfd = signalfd(-1, &term, SFD_CLOEXEC);
  if (sfd < 0) fail("kill-storm: signalfd: %s\n", strerror(errno));
  for (;;) {
    struct pollfd fds[2] = {{.fd = sfd, .events = POLLIN}, {.fd = 0, .events = POLLIN}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      fail("kill-storm: poll: %s\n", strerror(errno));
    }
    if (fds[0].revents) break;
    if (fds[1].revents) {
      char buf[256];
      ssize_t n = read(0, buf, sizeof buf);
      if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN) || (fds[1].revents & POLLNVAL))
        break;
    }
  }
  close(sfd);
}

/* SIGTERM to the survivors, each waited for (SIGKILL past EXIT_S); 0 when all exited with 0. */
static int end_survivors(pid_t *bad, int *bad_status)
{
  for (long i = 0; i < n_workers; i++) kill(workers[i].pid, SIGTERM);
  double until = now() + EXIT_S;
  int ok = 1;
  for (long i = 0; i < n_workers; i++) {
    int status = 0;
    pid_t r;
    while ((r = waitpid(workers[i].pid, &status, WNOHANG)) == 0 && now() < until) sleep_ms(5);
    if (r == 0) {
      kill(workers[i].pid, SIGKILL);
      waitpid(workers[i].pid, &status, 0);
    }
    if (ok && (r <= 0 || !WIFEXITED(status) || WEXITSTATUS(status))) {
      ok = 0;
      *bad = workers[i].pid;
      *bad_status = r == 0 ? -1 : status;
    }
    workers[i].pid = 0;
  }
  return ok ? 0 : -1;
}

int main(int argc, char **argv)
{
  struct options o;
  parse(argc, argv, &o);
  /* SIGTERM is read from a signalfd at the end; SIGUSR1 blocked here too is what each worker
   * inherits until its handlers are in place (see start). */
  sigset_t blocked;
  sigemptyset(&blocked);
  sigaddset(&blocked, SIGTERM);
  sigaddset(&blocked, SIGUSR1);
  sigprocmask(SIG_BLOCK, &blocked, NULL);
  zombies = calloc((size_t)o.kills + 1, sizeof *zombies);
  if (!zombies) fail("kill-storm: out of memory\n");

  uint32_t rng = o.seed * 2654435761u ^ 0x9e3779b9u;
  if (!rng) rng = 1;
  unsigned started = 0;
  long killed_allocating = 0;
  for (n_workers = 0; n_workers < o.workers; n_workers++)
    start(&workers[n_workers], &o, o.seed * 1000 + started++);

  for (long k = 0; k < o.kills; k++) {
    sleep_ms(o.gap_lo + (long)(next(&rng) % (uint32_t)(o.gap_hi - o.gap_lo + 1)));
    /* the first --observers workers are never killed: they live through the whole storm */
    struct worker *w = &workers[o.observers + (long)(next(&rng) % (uint32_t)(n_workers - o.observers))];
    pid_t victim = w->pid;
    long threads = 0;
    stat_of(victim, &threads);
    killed_allocating += threads > o.threads;
    kill(victim, SIGKILL);
    close(w->fd);
    w->pid = 0; /* from here on fail() reaps it through the zombie list or has already */
    if (o.zombie_every && (k + 1) % o.zombie_every == 0) zombies[n_zombies++] = victim;
    else waitpid(victim, NULL, 0);
    start(w, &o, o.seed * 1000 + started++);
  }

  for (long i = 0; i < n_workers; i++) kill(workers[i].pid, SIGUSR1);
  read_reports();
  long zombie_seen = count_zombies(), reported = 0, contexts = 0;
  unsigned long long held = 0, max_call = 0, allocs = 0, refused = 0, info_bad = 0;
  for (long i = 0; i < n_workers; i++) {
    const char *line = workers[i].line;
    if (!strchr(line, '\n') || line[0] != '{') continue; /* a storm's every line is one object */
    reported++;
    held += field(line, "held");
    if (strstr(line, "\"error\"")) continue;
    contexts++;
    allocs += field(line, "allocs");
    refused += field(line, "refused");
    info_bad += field(line, "info_bad");
    unsigned long long c = field(line, "max_call_us");
    if (c > max_call) max_call = c;
  }
  printf("{\"kills\":%ld,\"killed_allocating\":%ld,\"zombies\":%ld,\"survivors\":%ld,\"observers\":%ld,"
         "\"reported\":%ld,\"held\":%llu,\"contexts\":%ld,\"max_call_us\":%llu,\"allocs\":%llu,"
         "\"refused\":%llu,\"info_bad\":%llu,\"hung\":%ld}\n",
         o.kills, killed_allocating, zombie_seen, n_workers, o.observers, reported, held, contexts, max_call, allocs,
         refused, info_bad, n_workers - reported);
  fflush(stdout);

  hold();
  pid_t bad = 0;
  int bad_status = 0;
  int rc = end_survivors(&bad, &bad_status);
  for (long i = 0; i < n_zombies; i++) waitpid(zombies[i], NULL, 0);
  n_zombies = 0;
  if (rc) {
    const char *why = "did not end cleanly on SIGTERM: it";
    if (bad_status < 0)
      fail("kill-storm: survivor %d %s was still running %d s after it\n", (int)bad, why, EXIT_S);
    if (WIFSIGNALED(bad_status))
      fail("kill-storm: survivor %d %s died of signal %d\n", (int)bad, why, WTERMSIG(bad_status));
    fail("kill-storm: survivor %d %s exited with %d\n", (int)bad, why, WEXITSTATUS(bad_status));
  }
  return 0;
}
