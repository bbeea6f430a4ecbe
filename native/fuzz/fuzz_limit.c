/* libFuzzer harness for the limit grammar (limit.c): a value (a size or a percent), GPUMEM_LIMIT*
 * environments and percent-to-bytes. Every refusal is one terminated line naming the key; every
 * acceptance means what the text says. Input "env:" + NUL-separated KEY=value strings fuzzes the
 * environment reader; anything else is one value. */
#include <stdint.h>
#include <string.h>

#include "../src/format/limit.h"
#include "../src/format/size.h"
#include "fuzz_common.h"

#define WHAT "annotation gpumem.io/limit"

/* N[.N]% read a second way: the exact fraction, trailing zeros of the decimals dropped. */
static int reference_percent(const char *s, size_t len, uint64_t *num, uint64_t *den)
{
  if (len < 2 || s[len - 1] != '%') return -1;
  size_t i = 0, w = 0, f = 0;
  while (i < len - 1 && s[i] >= '0' && s[i] <= '9') i++, w++;
  size_t fstart = 0;
  int point = i < len - 1 && s[i] == '.';
  if (point) {
    fstart = ++i;
    while (i < len - 1 && s[i] >= '0' && s[i] <= '9') i++, f++;
  }
  if (w == 0 || (point && f == 0) || i != len - 1) return -1;
  while (f > 0 && s[fstart + f - 1] == '0') f--;
  if (f > 17) return -1;
  unsigned __int128 n = 0, d = 1;
  for (size_t k = 0; k < w; k++) {
    n = n * 10 + (unsigned)(s[k] - '0');
    if (n > 1000) n = 1000; /* out of range either way */
  }
  for (size_t k = 0; k < f; k++) n = n * 10 + (unsigned)(s[fstart + k] - '0'), d *= 10;
  if (n == 0 || n > 100 * d) return -1;
  *num = (uint64_t)n;
  *den = (uint64_t)d;
  return 0;
}

static int is_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

static void one_value(const char *text, size_t len)
{
  struct gpumem_limit l;
  struct errbuf e;
  int rc = gpumem_limit_parse(WHAT, text, &l, errbuf_prime(&e, 512), 512);
  if (rc) {
    errbuf_check(&e, text);
    CHECK(strncmp(e.bytes, WHAT "=\"", sizeof WHAT + 1) == 0, "message does not name the key: %s",
          e.bytes);
    CHECK(strstr(e.bytes, "; use ") || strstr(e.bytes, "a percent must be"),
          "message does not say what is accepted: %s", e.bytes);
    CHECK(!l.bytes && !l.percent_num && !l.percent_den, "refused but a limit was returned");
  }
  uint64_t num = 0, den = 0, bytes = 0;
  int percent = len > 0 && text[len - 1] == '%';
  int padded = len > 0 && (is_space(text[0]) || is_space(text[len - 1]));
  int want = len == 0 || padded ? -1
             : percent          ? reference_percent(text, len, &num, &den)
                                : gpumem_size_parse(text, &bytes, NULL, 0);
  CHECK(rc == want, "\"%s\": parse says %d, the grammar says %d", text, rc, want);
  if (rc) return;
  if (percent) {
    CHECK(l.bytes == 0 && l.percent_num == num && l.percent_den == den,
          "\"%s\": %llu/%llu, the grammar says %llu/%llu", text, (unsigned long long)l.percent_num,
          (unsigned long long)l.percent_den, (unsigned long long)num, (unsigned long long)den);
    /* Any GPU size: the share is floor(total * percent / 100), never above the GPU, and a share
     * of 0 bytes is refused rather than read as "no budget". */
    uint64_t totals[3] = {0, (uint64_t)len * 977 + 1, UINT64_MAX - len};
    for (int t = 0; t < 3; t++) {
      uint64_t b = 0;
      int r = gpumem_limit_percent_bytes(WHAT, &l, 0, totals[t], &b, errbuf_prime(&e, 200), 200);
      unsigned __int128 share = (unsigned __int128)totals[t] * num / ((unsigned __int128)100 * den);
      CHECK(r == (share ? 0 : -1) && (r || b == (uint64_t)share), "%s of %llu: %d %llu", text,
            (unsigned long long)totals[t], r, (unsigned long long)b);
      if (r) errbuf_check(&e, "percent_bytes");
    }
  } else {
    CHECK(l.bytes == bytes && l.percent_num == 0 && l.percent_den == 0, "\"%s\": not the size", text);
  }
}

static void environment(const char *data, size_t size)
{
  /* NUL-separated strings, at most 16 (the rest ignored). */
  char copy[4097];
  if (size > sizeof copy - 1) size = sizeof copy - 1;
  memcpy(copy, data, size);
  copy[size] = '\0';
  const char *env[17];
  int n = 0;
  for (size_t at = 0; at <= size && n < 16; at += strlen(copy + at) + 1) env[n++] = copy + at;
  env[n] = NULL;
  struct gpumem_env_limits out;
  struct errbuf e;
  int rc = gpumem_limit_env(env, n, &out, errbuf_prime(&e, 512), 512);
  if (rc < 0) {
    errbuf_check(&e, "env");
    /* A key of odd characters is quoted (quote.h): "GPUMEM_LIMIT_\xa3". */
    CHECK(strstr(e.bytes, "environment variable GPUMEM_LIMIT") != NULL ||
              strstr(e.bytes, "environment variable \"GPUMEM_LIMIT") != NULL,
          "message does not name the variable: %s", e.bytes);
    return;
  }
  /* Found means a key matched; the last value of each key is the one kept, as getenv would. */
  int any = 0;
  for (int k = 0; k < n; k++) {
    const char *eq = strchr(env[k], '=');
    if (strncmp(env[k], "GPUMEM_LIMIT", 12) != 0 || !eq) continue;
    any = 1;
    struct gpumem_limit *slot = &out.all;
    if (eq - env[k] > 12) slot = &out.per_gpu[atoi(env[k] + 13)];
    int later = 0;
    for (int j = k + 1; j < n; j++) {
      const char *eqj = strchr(env[j], '=');
      later |= eqj && eqj - env[j] == eq - env[k] && strncmp(env[j], env[k], (size_t)(eq - env[k])) == 0;
    }
    if (later) continue;
    struct gpumem_limit l;
    CHECK(gpumem_limit_parse("x", eq + 1, &l, NULL, 0) == 0 && memcmp(&l, slot, sizeof l) == 0,
          "%s: kept a different value", env[k]);
  }
  CHECK(rc == any, "found=%d but a matching key=%d", rc, any);
  /* The same environment NULL-terminated (n < 0, as environ) reads the same. */
  struct gpumem_env_limits again;
  CHECK(gpumem_limit_env(env, -1, &again, NULL, 0) == rc && memcmp(&again, &out, sizeof out) == 0,
        "n=-1 read differently");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size >= 4 && memcmp(data, "env:", 4) == 0) {
    environment((const char *)data + 4, size - 4);
    return 0;
  }
  char text[4097];
  if (size > sizeof text - 1) size = sizeof text - 1;
  memcpy(text, data, size);
  text[size] = '\0';
  one_value(text, strlen(text));
  return 0;
}
