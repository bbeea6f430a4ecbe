/* Where the budget's files lie in a state dir (the container's, or a standalone tree's). */
#ifndef GPUMEM_STATE_DIR_H
#define GPUMEM_STATE_DIR_H

/* A container the host configured has its state here (lib/paths.ts names the same). */
#define GPUMEM_HOST_STATE_DIR "/run/gpumem"

/* Inside a state dir: */
#define GPUMEM_CONFIG_FILE "/config/gpumem.conf" /* the host's config, read-only in a container */
#define GPUMEM_SHARED_DIR "/shared"
#define GPUMEM_ACCOUNTING_FILE "/shared/accounting" /* the region every process maps */
#define GPUMEM_STANDALONE_MARK "/standalone" /* a standalone tree's private dir: removed by its last process */

#endif
