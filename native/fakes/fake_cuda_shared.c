/* FAKE_CUDA_SHARED=<file>: the fake driver publishes each process's device use there (under the
 * pid it sees itself as, with its pid namespace's identity) and keeps the cross-process peak,
 * for the storm test's "never above the budget" check and for the fake NVML of host tools
 * (fake_nvml_processes.c). The file must be made by `storm --init-shared FILE` first (it holds a
 * process-shared mutex); a process can write it from any pid namespace (a container) when it is
 * bind-mounted there. Off by default. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fake_cuda_context.h"
#include "fake_cuda_shared.h"

#define READY 0x5ca1ab1eu

static pthread_once_t once = PTHREAD_ONCE_INIT;
static struct fake_shared *shared;
static int my_slot = -1;
static pid_t my_pid;
static uint64_t my_ns_dev, my_ns_ino;

static void attach(void)
{
  const char *path = getenv("FAKE_CUDA_SHARED");
  if (!path || !*path) return;
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  if (fd < 0) return;
  /* The test creates the file zeroed at its full size; ftruncate here is only a fallback. */
  if (lseek(fd, 0, SEEK_END) < (off_t)sizeof(struct fake_shared) &&
      ftruncate(fd, sizeof(struct fake_shared)) != 0) {
    close(fd);
    return;
  }
  void *m = mmap(NULL, sizeof(struct fake_shared), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (m == MAP_FAILED) return;
  struct fake_shared *s = m;
  if (__atomic_load_n(&s->initialized, __ATOMIC_ACQUIRE) != READY) {
    /* The test initializes the file with fake_shared_init (storm --init) before any process. */
    munmap(m, sizeof *s);
    return;
  }
  shared = s;
}

static void recompute(struct fake_shared *s)
{
  for (int d = 0; d < FAKE_SHARED_DEVICES; d++) {
    uint64_t sum = 0;
    for (int i = 0; i < FAKE_SHARED_SLOTS; i++)
      if (s->slots[i].pid > 0) sum += s->slots[i].used[d];
    s->total[d] = sum;
  }
}

static int reaped(pid_t pid) { return kill(pid, 0) != 0 && errno == ESRCH; }

/* Exited and not yet reaped: a zombie holds no device memory (the driver freed it at exit). A
 * zombie reaped between the caller's kill() and this read leaves nothing to read: kill() is asked
 * again, or the dead process would count as live and its memory inflate the peak. */
static int zombie(pid_t pid)
{
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "r");
  if (!f) return reaped(pid);
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  char *p = strrchr(buf, ')');
  if (!p || p[1] != ' ') return reaped(pid);
  return p[2] == 'Z' || p[2] == 'X';
}

/* A killed process's memory is gone with it, as a real driver frees it at exit. Only slots of
 * this process's pid namespace can be judged from here: another's pids mean other processes. */
static void drop_dead(struct fake_shared *s)
{
  for (int i = 0; i < FAKE_SHARED_SLOTS; i++) {
    int32_t pid = s->slots[i].pid;
    if (pid <= 0 || pid == my_pid || s->slots[i].ns_ino != my_ns_ino ||
        s->slots[i].ns_dev != my_ns_dev ||
        ((kill(pid, 0) == 0 || errno != ESRCH) && !zombie(pid)))
      continue;
    for (int d = 0; d < FAKE_SHARED_DEVICES; d++) {
      s->total[d] -= s->slots[i].used[d];
      s->slots[i].used[d] = 0;
      s->slots[i].nvml[d] = 0;
    }
    s->slots[i].pid = 0;
  }
}

/* The pid namespace this process is in (0, 0 when /proc cannot tell). */
static void note_namespace(void)
{
  struct stat st;
  my_ns_dev = my_ns_ino = 0;
  if (stat("/proc/self/ns/pid", &st) == 0) {
    my_ns_dev = (uint64_t)st.st_dev;
    my_ns_ino = (uint64_t)st.st_ino;
  }
}

void fake_shared_note(CUdevice dev, uint64_t used_now, uint64_t nvml_now)
{
  pthread_once(&once, attach);
  if (!shared || dev < 0 || dev >= FAKE_SHARED_DEVICES) return;
  struct fake_shared *s = shared;
  int rc = pthread_mutex_lock(&s->lock.mutex);
  if (rc == EOWNERDEAD) {
    recompute(s);
    pthread_mutex_consistent(&s->lock.mutex);
  } else if (rc) {
    return;
  }
  if (my_pid != getpid()) { /* first call, or a forked child (maybe in a new pid namespace) */
    my_pid = getpid();
    my_slot = -1;
    note_namespace();
  }
  if (my_slot < 0) {
    drop_dead(s);
    for (int i = 0; i < FAKE_SHARED_SLOTS && my_slot < 0; i++)
      if (s->slots[i].pid == 0) {
        memset(&s->slots[i], 0, sizeof s->slots[i]);
        s->slots[i].ns_dev = my_ns_dev;
        s->slots[i].ns_ino = my_ns_ino;
        s->slots[i].pid = my_pid;
        my_slot = i;
      }
  }
  if (my_slot >= 0) {
    uint64_t before = s->slots[my_slot].used[dev];
    s->slots[my_slot].used[dev] = used_now;
    s->slots[my_slot].nvml[dev] = nvml_now;
    s->total[dev] = s->total[dev] - before + used_now;
    if (s->total[dev] > s->peak[dev]) {
      drop_dead(s); /* only a new peak needs the liveness scan */
      if (s->total[dev] > s->peak[dev]) s->peak[dev] = s->total[dev];
    }
  }
  pthread_mutex_unlock(&s->lock.mutex);
}
