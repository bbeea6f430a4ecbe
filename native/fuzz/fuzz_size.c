/* libFuzzer harness for the size grammar (size.c): every text either parses to exactly the bytes an
 * independent 128-bit reading of the grammar gives, or is refused with a terminated message. */
#include <stdint.h>
#include <string.h>

#include "../src/format/size.h"
#include "fuzz_common.h"

#define TWO63 ((unsigned __int128)1 << 63)

/* The grammar as documented, read a second way: digits[.digits] (at least one digit; decimals past
 * the ninth ignored), one optional space, an optional unit b|k|m|g|t|p (any case) where k..p may
 * be followed by i and then b; the bytes rounded down, > 0 and <= 2^63. */
static int reference(const char *s, uint64_t *bytes)
{
  unsigned __int128 whole = 0;
  uint64_t num = 0, den = 1;
  int digits = 0;
  for (; *s >= '0' && *s <= '9'; s++, digits++)
    if (whole <= TWO63) whole = whole * 10 + (unsigned)(*s - '0'); /* past 2^63 it stays past */
  if (*s == '.')
    for (s++; *s >= '0' && *s <= '9'; s++, digits++)
      if (den < 1000000000) num = num * 10 + (unsigned)(*s - '0'), den *= 10;
  if (!digits) return -1;
  if (*s == ' ') s++;
  static const char units[] = "bkmgtp";
  unsigned shift = 0;
  int c = *s | 0x20;
  const char *u = *s ? strchr(units, c) : NULL;
  if (*s && (!u || (*s != c && *s != (c & ~0x20)))) return -1;
  if (u) {
    shift = 10 * (unsigned)(u - units);
    s++;
    if (shift && (*s | 0x20) == 'i') s++;
    if (shift && (*s | 0x20) == 'b') s++;
  }
  if (*s) return -1;
  unsigned __int128 unit = (unsigned __int128)1 << shift;
  unsigned __int128 v = whole * unit + (unit * num) / den;
  if (whole > TWO63 || v > TWO63 || v == 0) return -1;
  *bytes = (uint64_t)v;
  return 0;
}

static void flip_case(char *s)
{
  for (; *s; s++)
    if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')) *s ^= 0x20;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char text[4097];
  if (size > sizeof text - 1) size = sizeof text - 1;
  memcpy(text, data, size);
  text[size] = '\0'; /* a C string ends at its first NUL, as FFI's would */

  uint64_t got = 0, want = 0;
  struct errbuf e;
  int errlen = (int)(size % 64) == 0 ? 512 : (int)(size % 64); /* short buffers too */
  int rc = gpumem_size_parse(text, &got, errbuf_prime(&e, errlen), errlen);
  int ref = reference(text, &want);
  CHECK(rc == ref, "\"%s\": parse says %d, the grammar says %d", text, rc, ref);
  if (rc == 0) {
    CHECK(got == want, "\"%s\": %llu bytes, the grammar says %llu", text, (unsigned long long)got,
          (unsigned long long)want);
    for (int i = e.len > 0 ? 0 : (int)sizeof e.bytes; i < (int)sizeof e.bytes; i++)
      CHECK(e.bytes[i] == 'X', "\"%s\": accepted but the message buffer was written", text);
    /* The bytes written back as plain decimal read as the same bytes. */
    char dec[32];
    snprintf(dec, sizeof dec, "%llu", (unsigned long long)got);
    uint64_t again = 0;
    CHECK(gpumem_size_parse(dec, &again, NULL, 0) == 0 && again == got, "\"%s\" -> %s", text, dec);
  } else {
    /* Only terminated and within bounds: this message quotes the text as given (the one user,
     * `gpumem update`, words its own); the limit grammar's messages are the one-line ones. */
    for (int i = e.len; i < (int)sizeof e.bytes; i++)
      CHECK(e.bytes[i] == 'X', "\"%s\": message written past errlen %d", text, e.len);
    CHECK(memchr(e.bytes, '\0', (size_t)e.len) != NULL, "\"%s\": message not terminated", text);
  }
  /* Case never changes the meaning. */
  flip_case(text);
  uint64_t flipped = 0;
  int rc2 = gpumem_size_parse(text, &flipped, NULL, 0);
  CHECK(rc2 == rc && (rc || flipped == got), "case-flipped \"%s\": %d/%llu vs %d/%llu", text, rc2,
        (unsigned long long)flipped, rc, (unsigned long long)got);
  return 0;
}
