/* The one grammar of a limit (GPUMEM_LIMIT*, gpumem.io/limit*): a size or a percent of a GPU. */
#ifndef GPUMEM_FORMAT_LIMIT_H
#define GPUMEM_FORMAT_LIMIT_H

#include <stdint.h>

#include "config.h"

/* The accepted forms, ending every message about a bad value (TypeScript shows the same text). */
#define GPUMEM_LIMIT_HELP                                                                      \
  "use a size like 512m, 8g or 8GiB (a number with an optional unit b, k, m, g, t or p; "     \
  "binary multiples) or a percent of the GPU like 50%"

/* A percent has at most this many decimals (trailing zeros aside): 100 * 10^17 fits in 64 bits. */
#define GPUMEM_PERCENT_MAX_DECIMALS 17

/* A limit as written. A size: bytes > 0, percent_num = percent_den = 0. A percent: bytes = 0,
 * exactly percent_num / percent_den percent, in (0, 100], percent_den a power of ten.
 * All zero: not set. */
struct gpumem_limit {
  uint64_t bytes;
  uint64_t percent_num;
  uint64_t percent_den;
};

/* GPUMEM_LIMIT (all) and GPUMEM_LIMIT_<i> (per_gpu[i]) as found in an environment. */
struct gpumem_env_limits {
  struct gpumem_limit all;
  struct gpumem_limit per_gpu[GPUMEM_MAX_GPUS];
};

/* Parses one value; `what` names it in messages (e.g. "annotation gpumem.io/limit").
 * 0, or -1 with one line in err: `<what>="<text>" ...; use ...`. */
int gpumem_limit_parse(const char *what, const char *text, struct gpumem_limit *out, char *err,
                       int errlen);

/* Reads GPUMEM_LIMIT and GPUMEM_LIMIT_<i> from n "KEY=value" strings (n < 0: up to a NULL entry,
 * as environ); the last of a repeated key wins. Any other key starting with GPUMEM_LIMIT is
 * refused. 1 when some limit was found, 0 when none, -1 with err (naming the variable). */
int gpumem_limit_env(const char *const *env, int n, struct gpumem_env_limits *out, char *err,
                     int errlen);

/* floor(gpu_total * percent / 100) for a percent limit on GPU `gpu`; 0, or -1 with err when that
 * is 0 bytes (a budget of nothing would read as "no budget") or the limit is not a percent. */
int gpumem_limit_percent_bytes(const char *what, const struct gpumem_limit *limit, int gpu,
                               uint64_t gpu_total, uint64_t *bytes, char *err, int errlen);

#endif
