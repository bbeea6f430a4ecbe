/* Standalone (no host config, GPUMEM_LIMIT set): the private state dir one process tree shares. */
#ifndef GPUMEM_STANDALONE_DIR_H
#define GPUMEM_STANDALONE_DIR_H

#include "../format/accounting.h"

/* 1 when the environment has a GPUMEM_LIMIT* variable (valid or not: it asked for a limit). */
int standalone_dir_wanted(void);

/* Makes a private $TMPDIR/gpumem.XXXXXX, marks it and exports it as GPUMEM_STATE_DIR, so that
 * every process this one starts shares its budget. 0, or -1 with err. */
int standalone_dir_make(char *err, int errlen);

/* The dir this process made ("" if none). */
const char *standalone_dir_owned(void);

/* The state dir in use: when it is a marked private dir, this process removes it at exit if it
 * is the last one holding a slot there. */
void standalone_dir_note(const char *state);

/* At exit, after this process gave its slot back (attached: its region, or NULL). */
void standalone_dir_leave(struct gpumem_region *attached);

#endif
