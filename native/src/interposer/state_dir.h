/* Where the budget's files lie in a state dir (the container's, or a standalone tree's): the
 * layout of common/layout.h, as suffixes of a state dir's path. */
#ifndef GPUMEM_STATE_DIR_H
#define GPUMEM_STATE_DIR_H

#include "../common/layout.h"

/* A container the host configured has its state at GPUMEM_STATE_ROOT. Inside a state dir: */
#define STATE_CONFIG "/" GPUMEM_CONFIG_FILE         /* the host's config, read-only in a container */
#define STATE_SHARED "/" GPUMEM_SHARED_DIR
#define STATE_ACCOUNTING "/" GPUMEM_ACCOUNTING_FILE /* the region every process maps */
#define STATE_STANDALONE_MARK "/standalone" /* a standalone tree's private dir: removed by its last process */

#endif
