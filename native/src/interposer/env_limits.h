/* Standalone budgets (no host config) from GPUMEM_LIMIT / GPUMEM_LIMIT_<i>, percents included. */
#ifndef GPUMEM_ENV_LIMITS_H
#define GPUMEM_ENV_LIMITS_H

#include <stdint.h>

#include "../format/config.h"

/* Reads the process environment with the one limit grammar (src/format/limit.h). Sizes go into
 * c; percents are kept here and, when the driver is already initialized (the usual case: the
 * first wrapped call comes after cuInit), resolved at once against every device's real size into
 * c->limit_per_gpu; otherwise budget.c resolves them at each device's first use.
 * 1 = some limit found, 0 = none, -1 = invalid (one `gpumem: ...` line printed). */
int env_limits_load(struct gpumem_config *c);

/* Whether any GPUMEM_LIMIT* read by env_limits_load is a percent. */
int env_limits_have_percent(void);

/* The budget a GPUMEM_LIMIT* percent gives device dev of device_total bytes (its real size, from
 * the driver's own cuDeviceTotalMem_v2): 1 with *bytes set, when a percent is dev's limit
 * (GPUMEM_LIMIT_<dev>=N%, or GPUMEM_LIMIT=N% and no GPUMEM_LIMIT_<dev> size), which then wins
 * over whatever c said for dev; 0 when no percent applies to dev; -1 when the percent comes to
 * 0 bytes on dev (one line printed, once per device): allocations on dev must then be refused. */
int env_limits_percent_bytes(int dev, uint64_t device_total, uint64_t *bytes);

#endif
