/* What every harness checks of a message and how it reports a broken property: loudly, via abort. */
#ifndef GPUMEM_FUZZ_COMMON_H
#define GPUMEM_FUZZ_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A broken property is a finding like a crash: abort() makes libFuzzer save the input. */
#define CHECK(cond, ...)                                                  \
  do {                                                                    \
    if (!(cond)) {                                                        \
      fprintf(stderr, "property broken at %s:%d: %s: ", __FILE__, __LINE__, #cond); \
      fprintf(stderr, __VA_ARGS__);                                       \
      fputc('\n', stderr);                                                \
      abort();                                                            \
    }                                                                     \
  } while (0)

/* An error a user reads: NUL-terminated inside its buffer, one line, not empty. The buffer is
 * filled with 'X' beforehand, so a missing terminator shows as no NUL within errlen. */
static inline void check_message(const char *err, int errlen, const char *where)
{
  if (errlen <= 0) return;
  const char *nul = memchr(err, '\0', (size_t)errlen);
  CHECK(nul != NULL, "%s: message not terminated within %d bytes", where, errlen);
  if (errlen > 1) CHECK(nul > err, "%s: empty message", where);
  CHECK(memchr(err, '\n', (size_t)(nul - err)) == NULL, "%s: message has a newline: %s", where, err);
}

/* The buffer a function under test writes its message into, primed so an overrun or a missing
 * terminator is seen: ASan catches writes past errlen (the rest of the array is poisoned by
 * nothing, so the length is also checked by comparing the guard bytes). */
#define ERR_GUARD 16
struct errbuf {
  char bytes[512 + ERR_GUARD];
  int len;
};

static inline char *errbuf_prime(struct errbuf *e, int len)
{
  if (len > 512) len = 512;
  e->len = len;
  memset(e->bytes, 'X', sizeof e->bytes);
  return e->bytes;
}

static inline void errbuf_check(const struct errbuf *e, const char *where)
{
  for (int i = e->len; i < (int)sizeof e->bytes; i++)
    CHECK(e->bytes[i] == 'X', "%s: message written past errlen %d", where, e->len);
  check_message(e->bytes, e->len, where);
}

#endif
