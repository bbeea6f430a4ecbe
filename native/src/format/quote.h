/* How every message shows a value or a key it was given: on one line, and never too long. */
#ifndef GPUMEM_FORMAT_QUOTE_H
#define GPUMEM_FORMAT_QUOTE_H

#include <stddef.h>

/* A value is cut after this many characters (UTF-8 code points). */
#define GPUMEM_QUOTE_MAX_CHARS 64
/* Room for the longest quote: 64 characters at 6 bytes each (\u0085), the quotes, the ellipsis
 * and " (N characters)". */
#define GPUMEM_QUOTE_MAX 448
/* Room for a message that quotes a key and a value: "environment variable <key>=<value> ...; use ...". */
#define GPUMEM_MESSAGE_MAX (2 * GPUMEM_QUOTE_MAX + 256)

enum gpumem_quote_mode {
  /* "8g\nlimit 1", JSON-like: \" \\ \n \r \t, \u00XX for other control characters (C0, DEL, C1)
   * and \u2028 / \u2029, \xNN for a byte that is not UTF-8; past 64 characters cut as
   * "first 64…" (10000 characters). */
  GPUMEM_QUOTE_VALUE,
  /* A key: as it is when it is 1-64 printable ASCII characters without quotes or backslashes
   * (GPUMEM_LIMIT_X), else quoted as a value. */
  GPUMEM_QUOTE_NAME,
  /* A whole message: control characters escaped as above, nothing else changed, nothing cut. */
  GPUMEM_QUOTE_LINE,
};

/* Writes text[0..len) as mode says into out (NUL-terminated, cut short rather than overflowing
 * when outlen is too small); returns the length written. */
size_t gpumem_quote(char *out, size_t outlen, const char *text, size_t len,
                    enum gpumem_quote_mode mode);

#endif
