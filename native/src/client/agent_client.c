/* The runtime shim's way to the gpumem agent, so that a `runc create` needs no Node start: it
 * hands the agent runc's whole command line and working directory (the agent parses them, with
 * the same TypeScript that runs in-process), or asks it to set or clear a container's kernel
 * memory limit, and relays its answer (agent_client.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "agent_client.h"
#include "agent_protocol.h"

/* A full agent answers in milliseconds; one that holds a create this long is stuck, and a
 * `docker run` must not hang on it. */
#define ANSWER_TIMEOUT_MS 60000

static int write_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

/* Fields end in NUL, so paths and arguments need no quoting. */
static int write_field(int fd, const char *s) { return write_all(fd, s, strlen(s) + 1); }

static int connect_agent(const char *path) {
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof addr.sun_path) return -1;
  strcpy(addr.sun_path, path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Reads the answer until the agent closes; returns its length, -1 on error, -2 on timeout. */
static ssize_t read_answer(int fd, char *buf, size_t cap) {
  size_t len = 0;
  long deadline = now_ms() + ANSWER_TIMEOUT_MS;
  for (;;) {
    long left = deadline - now_ms();
    if (left <= 0) return -2;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int r = poll(&p, 1, (int)left);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return -1;
    if (r == 0) return -2;
    ssize_t n = read(fd, buf + len, cap - 1 - len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -1;
    if (n == 0) break;
    len += (size_t)n;
    if (len == cap - 1) break;
  }
  buf[len] = '\0';
  return (ssize_t)len;
}

/* runc's --log FILE among the global flags, for the one message the agent cannot write itself. */
static const char *runc_log(int argc, char **argv) {
  for (int i = 0; i < argc; i++) {
    if (!strcmp(argv[i], "--log") && i + 1 < argc) return argv[i + 1];
    if (!strncmp(argv[i], "--log=", 6)) return argv[i] + 6;
    if (argv[i][0] != '-') break;
  }
  return NULL;
}

static int refuse(int argc, char **argv, const char *message) {
  const char *log = runc_log(argc, argv);
  if (log) {
    int fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0) {
      /* The message is this file's own text: nothing in it needs JSON escaping. */
      dprintf(fd, "{\"level\":\"error\",\"msg\":\"%s\"}\n", message);
      close(fd);
    }
  }
  fprintf(stderr, "%s\n", message);
  return AGENT_REFUSED;
}

/* One request: the fields in head, then those in rest, each NUL-terminated, the stream half-closed;
 * the answer into buf. Its length, -1 when no agent answered (none listening, or it died before
 * answering), -2 when it did not answer in time. */
static ssize_t ask(const char *socket_path, const char *const *head, int nhead, char *const *rest,
                   int nrest, char *buf, size_t cap) {
  int fd = connect_agent(socket_path);
  if (fd < 0) return -1;
  int bad = 0;
  for (int i = 0; !bad && i < nhead; i++) bad = write_field(fd, head[i]);
  for (int i = 0; !bad && i < nrest; i++) bad = write_field(fd, rest[i]);
  /* The end of the request is the end of the stream; the answer comes back on the other half. */
  if (bad || shutdown(fd, SHUT_WR) != 0) {
    close(fd);
    return -1;
  }
  ssize_t n = read_answer(fd, buf, cap);
  close(fd);
  return n == 0 ? -1 : n;
}

/* The message of a refusal ("refused MESSAGE\n"), cut at its line's end; NULL for any other answer. */
static char *refusal(char *answer) {
  size_t rlen = strlen(GPUMEM_AGENT_REFUSED " ");
  if (strncmp(answer, GPUMEM_AGENT_REFUSED " ", rlen)) return NULL;
  char *msg = answer + rlen;
  msg[strcspn(msg, "\n")] = '\0';
  return msg;
}

int agent_create(const char *socket_path, int nargs, char **args) {
  char cwd[4096];
  if (!getcwd(cwd, sizeof cwd)) return AGENT_NONE;
  char count[16];
  snprintf(count, sizeof count, "%d", nargs);
  const char *head[] = {GPUMEM_AGENT_CREATE, cwd, count};
  char answer[8192];
  ssize_t n = ask(socket_path, head, 3, args, nargs, answer, sizeof answer);
  if (n == -2) {
    return refuse(nargs, args, "gpumem: the gpumem agent did not answer within 60 s; see its log (/var/log/gpumem.log) and restart it");
  }
  if (n < 0) return AGENT_NONE; /* an in-process decision redoes every step */
  if (!strcmp(answer, GPUMEM_AGENT_READY "\n")) return AGENT_READY;
  char *msg = refusal(answer);
  if (msg) {
    /* The agent has already told the engine through runc's log; stderr is for a person. */
    fprintf(stderr, "%s\n", msg);
    return AGENT_REFUSED;
  }
  return AGENT_NONE;
}

int agent_kernel_limit(const char *socket_path, const char *op, const char *id) {
  const char *head[] = {GPUMEM_AGENT_KERNEL_LIMIT, op, id};
  char answer[8192];
  ssize_t n = ask(socket_path, head, 3, NULL, 0, answer, sizeof answer);
  if (n == -2) {
    fprintf(stderr, "gpumem: the gpumem agent did not answer within 60 s about the kernel memory limit of %s; see its log (/var/log/gpumem.log) and restart it\n", id);
    return AGENT_REFUSED;
  }
  if (n < 0) return AGENT_NONE; /* setting or clearing again in-process is harmless */
  if (!strcmp(answer, GPUMEM_AGENT_READY "\n")) return AGENT_READY;
  char *msg = refusal(answer);
  if (msg) {
    fprintf(stderr, "%s\n", msg); /* already in the agent's log; stderr is for a person */
    return AGENT_REFUSED;
  }
  return AGENT_NONE;
}
