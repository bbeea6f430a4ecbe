/* Parses limit values and GPUMEM_LIMIT* variables for both the interposer and the host library,
 * so a container is judged by exactly one grammar whichever side reads its limit. */
#include "limit.h"

#include <stdio.h>
#include <string.h>

#include "quote.h"
#include "size.h"

#define ENV_KEY "GPUMEM_LIMIT"
#define ENV_KEY_LEN 12
#define ENV_KEYS_HELP ENV_KEY " or " ENV_KEY "_<GPU index 0-63>"

static int fail(char *err, int errlen, const char *what, const char *text, const char *rest)
{
  if (err && errlen > 0) {
    char q[GPUMEM_QUOTE_MAX];
    gpumem_quote(q, sizeof q, text, strlen(text), GPUMEM_QUOTE_VALUE);
    snprintf(err, (size_t)errlen, "%s=%s %s", what, q, rest);
  }
  return -1;
}

static int is_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

/* N% or N.N%: digits, optionally a point and digits, then '%' and nothing else. Exact: the
 * decimals are kept as a fraction of a power of ten, never as a double. */
static int parse_percent(const char *what, const char *text, size_t len, struct gpumem_limit *out,
                         char *err, int errlen)
{
  const char *p = text, *end = text + len - 1; /* end: the '%' */
  const char *whole = p;
  while (p < end && *p >= '0' && *p <= '9') p++;
  size_t nwhole = (size_t)(p - whole), nfrac = 0;
  const char *frac = NULL;
  if (p < end && *p == '.') {
    frac = ++p;
    while (p < end && *p >= '0' && *p <= '9') p++;
    nfrac = (size_t)(p - frac);
  }
  if (nwhole == 0 || (frac && nfrac == 0) || p != end) /* "%", "5.%", "5 %", "-5%" */
    return fail(err, errlen, what, text, "is not a valid limit; " GPUMEM_LIMIT_HELP);
  while (nfrac > 0 && frac[nfrac - 1] == '0') nfrac--; /* 50.000% is 50% */
  if (nfrac > GPUMEM_PERCENT_MAX_DECIMALS)
    return fail(err, errlen, what, text,
                "is not a valid limit (a percent has at most 17 decimals); " GPUMEM_LIMIT_HELP);
  uint64_t w = 0, num = 0, den = 1;
  for (size_t i = 0; i < nwhole; i++) {
    w = w * 10 + (uint64_t)(whole[i] - '0');
    if (w > 100) break; /* out of range below; stops before overflow */
  }
  if (w <= 100) {
    num = w;
    for (size_t i = 0; i < nfrac; i++) {
      num = num * 10 + (uint64_t)(frac[i] - '0');
      den *= 10;
    }
  }
  if (w > 100 || num == 0 || num > 100 * den)
    return fail(err, errlen, what, text,
                "is out of range; a percent must be above 0 and at most 100");
  out->percent_num = num;
  out->percent_den = den;
  return 0;
}

int gpumem_limit_parse(const char *what, const char *text, struct gpumem_limit *out, char *err,
                       int errlen)
{
  memset(out, 0, sizeof *out);
  if (!what) what = "limit";
  if (!text) text = "";
  size_t len = strlen(text);
  /* Empty is refused, not "unset": whoever wrote the key asked for a limit and must get one. */
  if (len == 0) return fail(err, errlen, what, text, "is empty; " GPUMEM_LIMIT_HELP);
  /* Docker's own parser refuses padding too; accepting it here would make " 8g " mean 8g in one
   * place and an error in another. */
  if (is_space(text[0]) || is_space(text[len - 1]))
    return fail(err, errlen, what, text, "has spaces around the value; " GPUMEM_LIMIT_HELP);
  if (text[len - 1] == '%') return parse_percent(what, text, len, out, err, errlen);
  if (gpumem_size_parse(text, &out->bytes, NULL, 0)) {
    out->bytes = 0;
    return fail(err, errlen, what, text, "is not a valid limit; " GPUMEM_LIMIT_HELP);
  }
  return 0;
}

/* "0".."63", no sign, no leading zero: one spelling per GPU, so two keys never mean one GPU. */
static int gpu_index(const char *s, size_t len)
{
  if (len == 0 || len > 2 || (len == 2 && s[0] == '0')) return -1;
  int v = 0;
  for (size_t i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v < GPUMEM_MAX_GPUS ? v : -1;
}

int gpumem_limit_env(const char *const *env, int n, struct gpumem_env_limits *out, char *err,
                     int errlen)
{
  memset(out, 0, sizeof *out);
  int found = 0;
  for (int k = 0; env && (n < 0 ? env[k] != NULL : k < n); k++) {
    const char *s = env[k];
    if (!s || strncmp(s, ENV_KEY, ENV_KEY_LEN) != 0) continue;
    const char *eq = strchr(s, '=');
    if (!eq) continue; /* not a variable: getenv() never sees it either */
    size_t klen = (size_t)(eq - s);
    char key[GPUMEM_QUOTE_MAX];
    gpumem_quote(key, sizeof key, s, klen, GPUMEM_QUOTE_NAME);
    struct gpumem_limit *slot = NULL;
    if (klen == ENV_KEY_LEN) {
      slot = &out->all;
    } else if (s[ENV_KEY_LEN] == '_') {
      int i = gpu_index(s + ENV_KEY_LEN + 1, klen - ENV_KEY_LEN - 1);
      if (i >= 0) slot = &out->per_gpu[i];
    }
    if (!slot) {
      /* GPUMEM_LIMIT_X or GPUMEM_LIMITS is a typo of a limit, not someone else's variable. */
      if (err && errlen > 0)
        snprintf(err, (size_t)errlen, "unknown environment variable %s; accepted: " ENV_KEYS_HELP,
                 key);
      return -1;
    }
    char what[GPUMEM_QUOTE_MAX + 32];
    snprintf(what, sizeof what, "environment variable %s", key);
    if (gpumem_limit_parse(what, eq + 1, slot, err, errlen)) return -1;
    found = 1;
  }
  return found;
}

/* The percent as it was written, less trailing zeros: "0.00000000001". */
static void percent_text(char *out, size_t outlen, uint64_t num, uint64_t den)
{
  int decimals = 0;
  for (uint64_t d = den; d > 1; d /= 10) decimals++;
  char digits[32];
  int n = snprintf(digits, sizeof digits, "%0*llu", decimals + 1, (unsigned long long)num);
  if (decimals == 0) snprintf(out, outlen, "%s", digits);
  else snprintf(out, outlen, "%.*s.%s", n - decimals, digits, digits + n - decimals);
}

/* What gpumem_limit_parse makes of a percent; the host library gets limits back from FFI. */
static int valid_percent(const struct gpumem_limit *l)
{
  uint64_t d = l->percent_den;
  if (l->bytes || d == 0) return 0;
  for (int i = 0; i < GPUMEM_PERCENT_MAX_DECIMALS && d % 10 == 0; i++) d /= 10;
  /* d == 1: a power of ten up to 10^17, so 100 * percent_den cannot overflow */
  return d == 1 && l->percent_num > 0 && l->percent_num <= 100 * l->percent_den;
}

int gpumem_limit_percent_bytes(const char *what, const struct gpumem_limit *limit, int gpu,
                               uint64_t gpu_total, uint64_t *bytes, char *err, int errlen)
{
  if (!what) what = "limit";
  if (!limit || !bytes || !valid_percent(limit)) {
    if (err && errlen > 0) snprintf(err, (size_t)errlen, "%s is not a percent in (0, 100]", what);
    return -1;
  }
  /* 128-bit: gpu_total and percent_num are each below 2^64, so the product cannot overflow. */
  unsigned __int128 share = (unsigned __int128)gpu_total * limit->percent_num;
  uint64_t b = (uint64_t)(share / ((unsigned __int128)100 * limit->percent_den));
  if (b == 0) {
    if (err && errlen > 0) {
      char pct[48];
      percent_text(pct, sizeof pct, limit->percent_num, limit->percent_den);
      snprintf(err, (size_t)errlen,
               "%s=\"%s%%\" resolves to 0 bytes on GPU %d (of %llu bytes); use a larger percent "
               "or a size like 512m",
               what, pct, gpu, (unsigned long long)gpu_total);
    }
    return -1;
  }
  *bytes = b;
  return 0;
}
