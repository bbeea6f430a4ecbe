/* Parses sizes the way `docker run --memory` does, so C and TypeScript accept exactly the same text. */
#include "size.h"

#include <stdio.h>
#include <string.h>

#include "quote.h"

static int fail(char *err, int errlen, const char *text, const char *why)
{
  if (err && errlen > 0) {
    char q[GPUMEM_QUOTE_MAX];
    gpumem_quote(q, sizeof q, text, strlen(text), GPUMEM_QUOTE_VALUE);
    snprintf(err, (size_t)errlen, "%s is not a size (%s); " GPUMEM_SIZE_HELP, q, why);
  }
  return -1;
}

static int lower(int c) { return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c; }

/* Hand-written rather than strtod/strtoull: exact integer arithmetic for large byte counts, no
 * locale, and no newer glibc symbol versions (__isoc23_strtoull). */
int gpumem_size_parse(const char *text, uint64_t *bytes, char *err, int errlen)
{
  if (!text) return fail(err, errlen, "", "empty");
  const char *p = text;
  uint64_t whole = 0, frac_num = 0, frac_den = 1;
  int digits = 0;
  for (; *p >= '0' && *p <= '9'; p++, digits++) {
    if (whole > (UINT64_MAX - 9) / 10) return fail(err, errlen, text, "too large");
    whole = whole * 10 + (uint64_t)(*p - '0');
  }
  if (*p == '.') {
    p++;
    for (; *p >= '0' && *p <= '9'; p++, digits++) {
      if (frac_den < 1000000000) { /* 9 digits are plenty; capping keeps the maths below exact */
        frac_num = frac_num * 10 + (uint64_t)(*p - '0');
        frac_den *= 10;
      }
    }
  }
  if (digits == 0)
    return fail(err, errlen, text, *text == '-' ? "negative" : *text ? "no number" : "empty");
  if (*p == ' ') p++;
  unsigned shift = 0;
  switch (lower(*p)) {
  case 'b': p++; break;
  case 'k': shift = 10; p++; break;
  case 'm': shift = 20; p++; break;
  case 'g': shift = 30; p++; break;
  case 't': shift = 40; p++; break;
  case 'p': shift = 50; p++; break;
  case '\0': break;
  default: return fail(err, errlen, text, "unknown unit");
  }
  if (shift) {
    if (lower(*p) == 'i') p++;
    if (lower(*p) == 'b') p++;
  }
  if (*p != '\0') return fail(err, errlen, text, "unknown unit");
  if (whole > (UINT64_C(1) << 63) >> shift) return fail(err, errlen, text, "too large");
  uint64_t value = whole << shift;
  /* (frac_num << shift) / frac_den in two steps: frac_num < frac_den <= 1e9 keeps both in range. */
  uint64_t unit = UINT64_C(1) << shift;
  uint64_t frac = (unit / frac_den) * frac_num + ((unit % frac_den) * frac_num) / frac_den;
  if (value > (UINT64_C(1) << 63) - frac) return fail(err, errlen, text, "too large");
  value += frac;
  if (value == 0) return fail(err, errlen, text, "must be more than zero");
  *bytes = value;
  return 0;
}
