/* libFuzzer harness for the interposer config reader (config.c): any file either loads as exactly
 * the budget its lines state (read a second way here), or is refused with one terminated line;
 * what loads is written back and reloads the same. */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../src/format/config.h"
#include "fuzz_common.h"

static char dir[64], path[96], path2[96];
static int fd = -1;

static void setup(void)
{
  const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  snprintf(dir, sizeof dir, "%s/gpumem-fuzz-config.XXXXXX", base);
  CHECK(mkdtemp(dir) != NULL, "mkdtemp %s", dir);
  snprintf(path, sizeof path, "%s/gpumem.conf", dir);
  snprintf(path2, sizeof path2, "%s/written.conf", dir);
  fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  CHECK(fd >= 0, "open %s", path);
}

static void cleanup(void)
{
  unlink(path);
  unlink(path2);
  rmdir(dir);
}

/* Decimal, no sign, no leading zero, value in [lo, hi]. */
static int number(const char *s, size_t len, uint64_t lo, uint64_t hi, uint64_t *out)
{
  if (len == 0 || len > 20 || (len > 1 && s[0] == '0')) return -1;
  unsigned __int128 v = 0;
  for (size_t i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (unsigned)(s[i] - '0');
  }
  if (v < lo || v > hi) return -1;
  *out = (uint64_t)v;
  return 0;
}

/* "GPU-"/"MIG-" and 8-4-4-4-12 hex digits, read a second way: the dashes by their positions in
 * the whole text, each byte from two digits found in a table. */
static int uuid_value(const char *s, size_t len, struct gpumem_uuid *u)
{
  static const char digits[] = "0123456789abcdef0123456789ABCDEF";
  if (len != 40) return -1;
  if (memcmp(s, "GPU-", 4) == 0) u->kind = GPUMEM_UUID_GPU;
  else if (memcmp(s, "MIG-", 4) == 0) u->kind = GPUMEM_UUID_MIG;
  else return -1;
  int b = 0;
  for (size_t i = 4; i < len;) {
    if (i == 12 || i == 17 || i == 22 || i == 27) {
      if (s[i++] != '-') return -1;
      continue;
    }
    const char *hi = s[i] ? memchr(digits, s[i], 32) : NULL;
    const char *lo = s[i + 1] ? memchr(digits, s[i + 1], 32) : NULL;
    if (!hi || !lo || i + 1 == 12 || i + 1 == 17 || i + 1 == 22 || i + 1 == 27) return -1;
    u->bytes[b++] = (uint8_t)(((hi - digits) % 16) << 4 | ((lo - digits) % 16));
    i += 2;
  }
  return b == 16 ? 0 : -1;
}

/* The format as its comment states it, read line by line a second way. */
static int reference(const char *buf, size_t n, struct gpumem_config *cfg)
{
  memset(cfg, 0, sizeof *cfg);
  static const char magic[] = GPUMEM_CONFIG_MAGIC "\n";
  if (n > GPUMEM_CONFIG_MAX_BYTES || n < sizeof magic - 1 || memcmp(buf, magic, sizeof magic - 1))
    return -1;
  int seen_all = 0, seen[GPUMEM_MAX_GPUS] = {0};
  for (size_t at = sizeof magic - 1; at < n;) {
    const char *nl = memchr(buf + at, '\n', n - at);
    if (!nl) return -1;
    const char *line = buf + at, *sp = memchr(line, ' ', (size_t)(nl - line));
    at = (size_t)(nl - buf) + 1;
    if (!sp) return -1;
    uint64_t v, i;
    size_t klen = (size_t)(sp - line);
    if (klen > 5 && memcmp(line, "uuid.", 5) == 0) {
      struct gpumem_uuid u;
      if (number(line + 5, klen - 5, 0, GPUMEM_MAX_GPUS - 1, &i) || cfg->uuid[i].kind ||
          uuid_value(sp + 1, (size_t)(nl - sp - 1), &u))
        return -1;
      for (int j = 0; j < GPUMEM_MAX_GPUS; j++)
        if (cfg->uuid[j].kind && memcmp(cfg->uuid[j].bytes, u.bytes, 16) == 0) return -1;
      cfg->uuid[i] = u;
      continue;
    }
    if (number(sp + 1, (size_t)(nl - sp - 1), 1, UINT64_C(1) << 63, &v)) return -1;
    if (klen == 5 && memcmp(line, "limit", 5) == 0) {
      if (seen_all++) return -1;
      cfg->limit_all = v;
    } else if (klen > 6 && memcmp(line, "limit.", 6) == 0 &&
               number(line + 6, klen - 6, 0, GPUMEM_MAX_GPUS - 1, &i) == 0) {
      if (seen[i]++) return -1;
      cfg->limit_per_gpu[i] = v;
    } else {
      return -1;
    }
  }
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (fd < 0) {
    setup();
    atexit(cleanup);
  }
  CHECK(ftruncate(fd, 0) == 0 && pwrite(fd, data, size, 0) == (ssize_t)size, "write %s", path);

  struct gpumem_config cfg, want;
  struct errbuf e;
  int errlen = size % 7 == 0 ? (int)(size % 50) : 512; /* short buffers now and then */
  int rc = gpumem_config_load(path, &cfg, errbuf_prime(&e, errlen), errlen);
  int ref = reference((const char *)data, size, &want);
  CHECK(rc == ref, "load says %d, the format says %d", rc, ref);
  if (rc) {
    errbuf_check(&e, "config_load");
    if (errlen == 512) CHECK(strncmp(e.bytes, path, strlen(path)) == 0, "message does not name the file: %s", e.bytes);
    return 0;
  }
  CHECK(memcmp(&cfg, &want, sizeof cfg) == 0, "loaded a different budget than the lines state");
  CHECK(gpumem_config_has_uuids(&cfg) == gpumem_config_has_uuids(&want), "uuid lines seen differently");
  for (int i = 0; i < GPUMEM_MAX_GPUS; i++)
    if (want.uuid[i].kind)
      CHECK(gpumem_config_uuid_index(&cfg, want.uuid[i].bytes) == i, "uuid of GPU %d not found at %d", i, i);
  /* Budget per device: its own limit, else the one for all, else none. */
  for (int d = -1; d <= GPUMEM_MAX_GPUS; d++) {
    uint64_t b = gpumem_config_budget(&cfg, d);
    uint64_t w = d >= 0 && d < GPUMEM_MAX_GPUS && want.limit_per_gpu[d] ? want.limit_per_gpu[d] : want.limit_all;
    CHECK(b == w, "budget of device %d", d);
  }
  /* Written back by the one writer, it reads the same. */
  struct gpumem_config back;
  CHECK(gpumem_config_store(path2, &cfg, e.bytes, 512) == 0, "store: %s", e.bytes);
  CHECK(gpumem_config_load(path2, &back, e.bytes, 512) == 0, "reload: %s", e.bytes);
  CHECK(memcmp(&cfg, &back, sizeof cfg) == 0, "reloaded a different budget");
  return 0;
}
