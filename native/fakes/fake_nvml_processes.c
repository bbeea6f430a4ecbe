/* The fake NVML's process list for a process without the fake driver (a host tool such as gpumem
 * ps): every process that FAKE_CUDA_SHARED shows holding memory on the device, under the pid it
 * has in the caller's /proc, as the real driver lists a container's processes under host pids.
 * A slot records the pid the process saw itself as and its pid namespace; the caller's pid for it
 * is the /proc/<pid> whose ns/pid is that namespace and whose NSpid line ends with that pid. A
 * process no /proc entry matches has exited (the driver freed its memory) and is not listed. */
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fake_cuda_shared.h"
#include "fake_nvml_processes.h"

/* The pid a process has in its own namespace: the last field of its NSpid line; -1 if none. */
static long innermost_pid(const char *pid_dir)
{
  char path[300], line[256];
  snprintf(path, sizeof path, "/proc/%s/status", pid_dir);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  long last = -1;
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "NSpid:", 6)) continue;
    for (char *p = line + 6; *p;) {
      char *end;
      long v = strtol(p, &end, 10);
      if (end == p) break;
      last = v;
      p = end;
    }
    break;
  }
  fclose(f);
  return last;
}

/* The caller's pid for (ns, pid); 0 when no live process matches. */
static unsigned int caller_pid(uint64_t ns_dev, uint64_t ns_ino, int32_t pid)
{
  if (!ns_ino) return kill(pid, 0) == 0 ? (unsigned int)pid : 0; /* namespace unknown: as is */
  DIR *d = opendir("/proc");
  if (!d) return 0;
  unsigned int found = 0;
  struct dirent *e;
  while (!found && (e = readdir(d))) {
    if (!isdigit((unsigned char)e->d_name[0])) continue;
    char path[300];
    struct stat st;
    snprintf(path, sizeof path, "/proc/%s/ns/pid", e->d_name);
    if (stat(path, &st) || (uint64_t)st.st_dev != ns_dev || (uint64_t)st.st_ino != ns_ino) continue;
    if (innermost_pid(e->d_name) == pid) found = (unsigned int)strtoul(e->d_name, NULL, 10);
  }
  closedir(d);
  return found;
}

int fake_shared_processes(unsigned int dev, nvmlProcessInfo_t *out, unsigned int cap)
{
  const char *path = getenv("FAKE_CUDA_SHARED");
  if (!path || !*path || dev >= FAKE_SHARED_DEVICES) return -1;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  const struct fake_shared *s = mmap(NULL, sizeof *s, PROT_READ, MAP_SHARED, fd, 0);
  close(fd);
  if (s == MAP_FAILED) return -1;
  /* Read without the lock: a listing is a snapshot that may be a moment old, as NVML's is. */
  int n = 0;
  for (int i = 0; i < FAKE_SHARED_SLOTS; i++) {
    int32_t pid = __atomic_load_n(&s->slots[i].pid, __ATOMIC_ACQUIRE);
    uint64_t bytes = __atomic_load_n(&s->slots[i].nvml[dev], __ATOMIC_RELAXED);
    if (pid <= 0 || bytes == 0) continue;
    unsigned int mine = caller_pid(s->slots[i].ns_dev, s->slots[i].ns_ino, pid);
    if (!mine) continue;
    if ((unsigned int)n < cap) out[n] = (nvmlProcessInfo_t){mine, bytes, ~0u, ~0u};
    n++;
  }
  munmap((void *)s, sizeof *s);
  return n;
}
