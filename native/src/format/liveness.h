/* Whether the process holding an accounting slot still exists, from kill(2) and /proc/<pid>/stat. */
#ifndef GPUMEM_FORMAT_LIVENESS_H
#define GPUMEM_FORMAT_LIVENESS_H

#include <stdint.h>
#include <sys/types.h>

/* Start time of a process from /proc/<pid>/stat (field 22), 0 if unknown. */
uint64_t gpumem_process_start_time(pid_t pid);

/* 1 when the process that was pid with start_time (0 = unknown) is gone: no such pid, a zombie,
 * or a different process under a reused pid; 0 when it may still be alive. */
int gpumem_process_gone(pid_t pid, uint64_t start_time);

#endif
