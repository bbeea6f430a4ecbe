/* The size grammar shared by the interposer (GPUMEM_LIMIT) and the host library (annotations). */
#ifndef GPUMEM_FORMAT_SIZE_H
#define GPUMEM_FORMAT_SIZE_H

#include <stdint.h>

#define GPUMEM_SIZE_HELP \
  "use a number with an optional unit b, k, m, g, t or p (e.g. 512m, 8g, 8GiB)"

/* Parses e.g. "8g", "8GiB", "1.5g", "512 m", "100"; returns 0, or -1 with a message in err. */
int gpumem_size_parse(const char *text, uint64_t *bytes, char *err, int errlen);

#endif
