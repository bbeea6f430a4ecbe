/* Reads and writes the interposer config file; the one definition of its format.
 *
 *   gpumem-config 1
 *   limit 8589934592
 *   limit.1 4294967296
 *
 * First line fixed; then `limit <bytes>` at most once and `limit.<i> <bytes>` (0 <= i < 64) at
 * most once each, plain decimal bytes > 0, every line ending in '\n'. Anything else is an error:
 * a budget is a security boundary, so a file we do not fully understand fails closed. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int fail(char *err, int errlen, const char *fmt, const char *a, int b)
{
  char msg[200];
  snprintf(msg, sizeof msg, fmt, a, b);
  if (err && errlen > 0) snprintf(err, (size_t)errlen, "%s", msg);
  return -1;
}

uint64_t gpumem_config_budget(const struct gpumem_config *cfg, int dev)
{
  if (dev >= 0 && dev < GPUMEM_MAX_GPUS && cfg->limit_per_gpu[dev]) return cfg->limit_per_gpu[dev];
  return cfg->limit_all;
}

/* Decimal digits only, no sign, no leading zeros except "0" itself, fits in 63 bits. */
static int parse_u63(const char *s, size_t len, uint64_t *out)
{
  if (len == 0 || len > 19 || (len > 1 && s[0] == '0')) return -1;
  uint64_t v = 0;
  for (size_t i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (uint64_t)(s[i] - '0');
  }
  if (v > (UINT64_C(1) << 63)) return -1;
  *out = v;
  return 0;
}

/* Duplicates are refused: a value is never 0, so a non-zero field means "already seen". */
static int parse_line(const char *line, size_t len, struct gpumem_config *cfg)
{
  const char *sp = memchr(line, ' ', len);
  if (!sp) return -1;
  size_t klen = (size_t)(sp - line);
  uint64_t value;
  if (parse_u63(sp + 1, len - klen - 1, &value) || value == 0) return -1;
  if (klen == 5 && memcmp(line, "limit", 5) == 0) {
    if (cfg->limit_all) return -1;
    cfg->limit_all = value;
    return 0;
  }
  uint64_t idx;
  if (klen < 7 || memcmp(line, "limit.", 6) != 0 || parse_u63(line + 6, klen - 6, &idx) ||
      idx >= GPUMEM_MAX_GPUS || cfg->limit_per_gpu[idx])
    return -1;
  cfg->limit_per_gpu[idx] = value;
  return 0;
}

int gpumem_config_load(const char *path, struct gpumem_config *cfg, char *err, int errlen)
{
  memset(cfg, 0, sizeof *cfg);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return 1;
    if (err && errlen > 0) snprintf(err, (size_t)errlen, "cannot open %s: %s", path, strerror(errno));
    return -1;
  }
  char buf[GPUMEM_CONFIG_MAX_BYTES + 1];
  size_t n = 0;
  for (;;) {
    ssize_t r = read(fd, buf + n, sizeof buf - n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    n += (size_t)r;
    if (n == sizeof buf) break;
  }
  close(fd);
  if (n > GPUMEM_CONFIG_MAX_BYTES) return fail(err, errlen, "%s: config file too large", path, 0);
  size_t mlen = strlen(GPUMEM_CONFIG_MAGIC);
  if (n < mlen + 1 || memcmp(buf, GPUMEM_CONFIG_MAGIC "\n", mlen + 1) != 0)
    return fail(err, errlen, "%s: not a gpumem config (first line must be \"" GPUMEM_CONFIG_MAGIC
                "\")", path, 0);
  size_t pos = mlen + 1;
  int lineno = 2;
  while (pos < n) {
    const char *nl = memchr(buf + pos, '\n', n - pos);
    if (!nl) return fail(err, errlen, "%s: line %d is not terminated", path, lineno);
    if (parse_line(buf + pos, (size_t)(nl - (buf + pos)), cfg))
      return fail(err, errlen, "%s: line %d is not `limit <bytes>` or `limit.<i> <bytes>`", path,
                  lineno);
    pos = (size_t)(nl - buf) + 1;
    lineno++;
  }
  return 0;
}

static int write_all(int fd, const char *p, size_t n)
{
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

int gpumem_config_store(const char *path, const struct gpumem_config *cfg, char *err, int errlen)
{
  char text[GPUMEM_CONFIG_MAX_BYTES];
  size_t len = (size_t)snprintf(text, sizeof text, "%s\n", GPUMEM_CONFIG_MAGIC);
  if (cfg->limit_all)
    len += (size_t)snprintf(text + len, sizeof text - len, "limit %llu\n",
                            (unsigned long long)cfg->limit_all);
  for (int i = 0; i < GPUMEM_MAX_GPUS; i++)
    if (cfg->limit_per_gpu[i])
      len += (size_t)snprintf(text + len, sizeof text - len, "limit.%d %llu\n", i,
                              (unsigned long long)cfg->limit_per_gpu[i]);
  char tmp[4096];
  if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid()) >= sizeof tmp)
    return fail(err, errlen, "path too long: %s", path, 0);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    if (err && errlen > 0) snprintf(err, (size_t)errlen, "cannot create %s: %s", tmp, strerror(errno));
    return -1;
  }
  /* No fsync: the rename alone makes the switch atomic for readers, and a config lives in /run
   * for a container that does not outlive the host's next boot (an fsync costs a container's
   * start milliseconds where /run is on a disk). */
  int bad = fchmod(fd, 0644) != 0 || write_all(fd, text, len) != 0;
  int saved = errno;
  if (close(fd) != 0 && !bad) { bad = 1; saved = errno; }
  if (bad || rename(tmp, path) != 0) {
    if (!bad) saved = errno;
    unlink(tmp);
    if (err && errlen > 0) snprintf(err, (size_t)errlen, "cannot write %s: %s", path, strerror(saved));
    return -1;
  }
  return 0;
}
