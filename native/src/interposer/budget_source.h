/* Where this process's budget comes from: the host's config, else GPUMEM_STATE_DIR or a private
 * dir, with a config there or GPUMEM_LIMIT*, else none. */
#ifndef GPUMEM_BUDGET_SOURCE_H
#define GPUMEM_BUDGET_SOURCE_H

#include "../format/config.h"
#include "budget.h"

struct budget_source {
  enum budget_mode mode;  /* OFF: nothing asked for; CLOSED: unusable (the reason said once) */
  char state[4096];       /* the state dir whose region is charged */
  char config_path[4200]; /* its config file, re-read when the region's generation moves */
  struct gpumem_config cfg; /* the limits found */
  int env_percent;        /* they came from GPUMEM_LIMIT* and one is a percent of a device */
};

/* Fills *s; says why once when the budget is unusable. */
void budget_source_find(struct budget_source *s);

#endif
