/* Tells whether the process holding an accounting slot still exists, from kill(2) and /proc. */
#include "liveness.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Fields 3 (state) and 22 (start time) of /proc/<pid>/stat; -1 if it cannot be read. */
static int read_stat(pid_t pid, char *state, uint64_t *start)
{
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return -1;
  buf[n] = '\0';
  /* comm (field 2) may hold spaces and ')': fields are counted from the last ')'. */
  char *p = strrchr(buf, ')');
  if (!p || p[1] != ' ') return -1;
  *state = p[2];
  for (int field = 2; field < 22; field++) {
    p = strchr(p + 1, ' ');
    if (!p) return -1;
  }
  uint64_t v = 0;
  for (p++; *p >= '0' && *p <= '9'; p++) v = v * 10 + (uint64_t)(*p - '0');
  *start = v;
  return 0;
}

uint64_t gpumem_process_start_time(pid_t pid)
{
  char state;
  uint64_t start;
  return read_stat(pid, &state, &start) ? 0 : start;
}

/* A zombie (exited, not yet reaped by a parent that may never reap it) counts as gone:
 * kill(pid, 0) still succeeds, but the driver freed its memory when it exited. */
int gpumem_process_gone(pid_t pid, uint64_t start_time)
{
  if (kill(pid, 0) != 0 && errno == ESRCH) return 1; /* EPERM: alive, another uid */
  char state;
  uint64_t start;
  if (read_stat(pid, &state, &start)) return 0; /* no /proc view: trust kill() */
  if (state == 'Z' || state == 'X') return 1;
  return start_time && start != start_time; /* the pid was reused */
}
