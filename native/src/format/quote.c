/* Quotes values and keys for messages (quote.h): the one rule by which the C grammar, the
 * interposer and the TypeScript host (through FFI) echo what they were given. */
#include "quote.h"

#include <stdint.h>
#include <stdio.h>

struct sink {
  char *out;
  size_t cap, len;
};

static void put(struct sink *s, const char *p, size_t n)
{
  for (size_t i = 0; i < n && s->len + 1 < s->cap; i++) s->out[s->len++] = p[i];
}

/* The code point of a well-formed UTF-8 sequence at p (at most left bytes) and its length in
 * *n, or -1 (*n = 1) for a byte that starts none. */
static int32_t decode(const unsigned char *p, size_t left, size_t *n)
{
  *n = 1;
  unsigned char c = p[0];
  if (c < 0x80) return c;
  size_t len = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
  if (len == 0 || len > left) return -1;
  int32_t cp = c & (0x7f >> len);
  for (size_t i = 1; i < len; i++) {
    if ((p[i] & 0xc0) != 0x80) return -1;
    cp = (cp << 6) | (p[i] & 0x3f);
  }
  /* overlong forms, surrogates and past U+10FFFF are not UTF-8 */
  if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
    return -1;
  *n = len;
  return cp;
}

/* A character that could end or break a line, or hide the text that follows it. */
static int is_control(int32_t cp)
{
  return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029;
}

static const char hex[] = "0123456789abcdef";

static void escape(struct sink *s, const unsigned char *p, size_t n, int32_t cp, int quoted)
{
  char buf[8];
  if (cp < 0) {
    buf[0] = '\\', buf[1] = 'x', buf[2] = hex[p[0] >> 4], buf[3] = hex[p[0] & 15];
    put(s, buf, 4);
  } else if (quoted && (cp == '"' || cp == '\\')) {
    buf[0] = '\\', buf[1] = (char)cp;
    put(s, buf, 2);
  } else if (cp == '\n' || cp == '\r' || cp == '\t') {
    buf[0] = '\\', buf[1] = cp == '\n' ? 'n' : cp == '\r' ? 'r' : 't';
    put(s, buf, 2);
  } else if (is_control(cp)) {
    buf[0] = '\\', buf[1] = 'u'; /* every control is below U+10000: four digits */
    for (int k = 0; k < 4; k++) buf[2 + k] = hex[(cp >> (12 - 4 * k)) & 15];
    put(s, buf, 6);
  } else {
    put(s, (const char *)p, n);
  }
}

static int plain_name(const char *text, size_t len)
{
  if (len == 0 || len > GPUMEM_QUOTE_MAX_CHARS) return 0;
  for (size_t i = 0; i < len; i++)
    if (text[i] <= ' ' || text[i] > '~' || text[i] == '"' || text[i] == '\\') return 0;
  return 1;
}

size_t gpumem_quote(char *out, size_t outlen, const char *text, size_t len,
                    enum gpumem_quote_mode mode)
{
  struct sink s = {out, outlen, 0};
  if (!out || outlen == 0) return 0;
  if (!text) text = "", len = 0;
  if (mode == GPUMEM_QUOTE_NAME && plain_name(text, len)) {
    put(&s, text, len);
    out[s.len] = '\0';
    return s.len;
  }
  int quoted = mode != GPUMEM_QUOTE_LINE;
  if (quoted) put(&s, "\"", 1);
  const unsigned char *p = (const unsigned char *)text;
  size_t i = 0, chars = 0, n;
  for (; i < len; i += n, chars++) {
    if (quoted && chars == GPUMEM_QUOTE_MAX_CHARS) break;
    int32_t cp = decode(p + i, len - i, &n);
    escape(&s, p + i, n, cp, quoted);
  }
  if (i < len) { /* cut: count the rest, so the message says how long the value was */
    for (; i < len; i += n, chars++) decode(p + i, len - i, &n);
    char tail[64];
    int t = snprintf(tail, sizeof tail, "\xe2\x80\xa6\" (%zu characters)", chars);
    put(&s, tail, (size_t)t);
  } else if (quoted) {
    put(&s, "\"", 1);
  }
  out[s.len] = '\0';
  return s.len;
}
