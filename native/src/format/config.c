/* Reads and writes the interposer config file; the one definition of its format.
 *
 *   gpumem-config 1
 *   limit 8589934592
 *   limit.1 4294967296
 *   uuid.0 GPU-6f1c0e6a-3b1d-4c52-9f0e-1a2b3c4d5e6f
 *   uuid.1 MIG-0b5c8f0e-2a4d-5e6f-8a9b-0c1d2e3f4a5b
 *
 * First line fixed; then `limit <bytes>` at most once, `limit.<i> <bytes>` and `uuid.<i> <UUID>`
 * (0 <= i < 64) at most once each, in any order: plain decimal bytes > 0; a UUID is `GPU-` or
 * `MIG-` and 8-4-4-4-12 hex digits of either case (what NVML prints; MIG devices since R470),
 * no two lines naming the same one. `uuid.<i>` says the container's GPU i is the device with that
 * UUID, whatever its CUDA ordinal in a process (CUDA_VISIBLE_DEVICES may reorder or name devices);
 * without any uuid line GPU i is CUDA ordinal i. Every line ends in '\n'. Anything else is an
 * error: a budget is a security boundary, so a file we do not fully understand fails closed. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int fail(char *err, int errlen, const char *fmt, const char *a, int b)
{
  char msg[300];
  snprintf(msg, sizeof msg, fmt, a, b);
  if (err && errlen > 0) snprintf(err, (size_t)errlen, "%s", msg);
  return -1;
}

uint64_t gpumem_config_budget(const struct gpumem_config *cfg, int dev)
{
  if (dev >= 0 && dev < GPUMEM_MAX_GPUS && cfg->limit_per_gpu[dev]) return cfg->limit_per_gpu[dev];
  return cfg->limit_all;
}

int gpumem_config_has_uuids(const struct gpumem_config *cfg)
{
  for (int i = 0; i < GPUMEM_MAX_GPUS; i++)
    if (cfg->uuid[i].kind != GPUMEM_UUID_NONE) return 1;
  return 0;
}

int gpumem_config_uuid_index(const struct gpumem_config *cfg, const uint8_t bytes[16])
{
  for (int i = 0; i < GPUMEM_MAX_GPUS; i++)
    if (cfg->uuid[i].kind != GPUMEM_UUID_NONE && memcmp(cfg->uuid[i].bytes, bytes, 16) == 0)
      return i;
  return -1;
}

static int hex_digit(char c)
{
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int gpumem_uuid_parse(const char *s, size_t len, struct gpumem_uuid *out)
{
  if (len != GPUMEM_UUID_TEXT_LEN) return -1;
  uint8_t kind = memcmp(s, "GPU-", 4) == 0 ? GPUMEM_UUID_GPU
                 : memcmp(s, "MIG-", 4) == 0 ? GPUMEM_UUID_MIG
                                             : GPUMEM_UUID_NONE;
  if (kind == GPUMEM_UUID_NONE) return -1;
  struct gpumem_uuid u = {kind, {0}};
  int nibble = 0;
  for (size_t i = 4; i < len; i++) {
    size_t at = i - 4; /* dashes after 8, 4, 4 and 4 digits */
    if (at == 8 || at == 13 || at == 18 || at == 23) {
      if (s[i] != '-') return -1;
      continue;
    }
    int v = hex_digit(s[i]);
    if (v < 0) return -1;
    u.bytes[nibble / 2] = (uint8_t)(u.bytes[nibble / 2] | (nibble % 2 ? v : v << 4));
    nibble++;
  }
  *out = u;
  return 0;
}

void gpumem_uuid_format(const struct gpumem_uuid *u, char *out, size_t outlen)
{
  const uint8_t *b = u->bytes;
  snprintf(out, outlen, "%s-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
           u->kind == GPUMEM_UUID_MIG ? "MIG" : "GPU", b[0], b[1], b[2], b[3], b[4], b[5], b[6],
           b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
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

enum { LINE_BAD = -1, LINE_BAD_UUID = -2, LINE_SAME_UUID = -3 };

/* uuid.<i> <UUID>: once per index, and one GPU is never two of the container's GPUs. */
static int parse_uuid_line(const char *line, size_t klen, const char *value, size_t vlen,
                           struct gpumem_config *cfg)
{
  uint64_t idx;
  if (klen < 6 || parse_u63(line + 5, klen - 5, &idx) || idx >= GPUMEM_MAX_GPUS ||
      cfg->uuid[idx].kind != GPUMEM_UUID_NONE)
    return LINE_BAD;
  struct gpumem_uuid u;
  if (gpumem_uuid_parse(value, vlen, &u)) return LINE_BAD_UUID;
  if (gpumem_config_uuid_index(cfg, u.bytes) >= 0) return LINE_SAME_UUID;
  cfg->uuid[idx] = u;
  return 0;
}

/* Duplicates are refused: a value is never 0, so a non-zero field means "already seen". */
static int parse_line(const char *line, size_t len, struct gpumem_config *cfg)
{
  const char *sp = memchr(line, ' ', len);
  if (!sp) return LINE_BAD;
  size_t klen = (size_t)(sp - line);
  if (klen >= 5 && memcmp(line, "uuid.", 5) == 0)
    return parse_uuid_line(line, klen, sp + 1, len - klen - 1, cfg);
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
    int rc = parse_line(buf + pos, (size_t)(nl - (buf + pos)), cfg);
    if (rc == LINE_BAD_UUID)
      return fail(err, errlen, "%s: line %d has no GPU UUID after `uuid.<i>` (accepted: GPU- or "
                  "MIG- and 8-4-4-4-12 hex digits, as nvidia-smi -L prints)", path, lineno);
    if (rc == LINE_SAME_UUID)
      return fail(err, errlen, "%s: line %d names a GPU UUID an earlier uuid line already named",
                  path, lineno);
    if (rc)
      return fail(err, errlen, "%s: line %d is not `limit <bytes>`, `limit.<i> <bytes>` or "
                  "`uuid.<i> <GPU UUID>` (i in 0..63, each at most once)", path, lineno);
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
  for (int i = 0; i < GPUMEM_MAX_GPUS; i++)
    if (cfg->uuid[i].kind != GPUMEM_UUID_NONE) {
      char u[GPUMEM_UUID_TEXT_LEN + 1];
      gpumem_uuid_format(&cfg->uuid[i], u, sizeof u);
      len += (size_t)snprintf(text + len, sizeof text - len, "uuid.%d %s\n", i, u);
    }
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
