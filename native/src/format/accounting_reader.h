/* The host's side of the accounting region: it reads a copy and bumps the generation, and never
 * maps the file or trusts what the container wrote there. */
#ifndef GPUMEM_FORMAT_ACCOUNTING_READER_H
#define GPUMEM_FORMAT_ACCOUNTING_READER_H

#include <stdint.h>

#include "accounting.h"

/* Tells the processes using the region at path that the config changed (generation + 1, one
 * pwrite; never maps the file). Validates the header first. 0 or -1 with err. */
int gpumem_accounting_bump_generation(const char *path, char *err, int errlen);

/* The region's generation, read from its validated header (one pread). 0 or -1 with err. */
int gpumem_accounting_read_generation(const char *path, uint64_t *generation, char *err,
                                      int errlen);

/* What the host reads of a region. */
struct gpumem_usage {
  uint64_t used[GPUMEM_MAX_GPUS];   /* recorded per-GPU totals */
  uint64_t driver[GPUMEM_MAX_GPUS]; /* of which driver-taken, summed over the occupied slots */
  uint64_t peak[GPUMEM_MAX_GPUS];    /* the recorded peak, at least the total recorded now */
  uint64_t refused[GPUMEM_MAX_GPUS]; /* allocations the budget refused, as recorded */
  int slots_used;                   /* occupied process slots */
  int driver_unseen;                /* of which NVML gives no per-process figure for */
};

/* Copies the file (never maps it: a container could truncate it under us), validates it and
 * fills *u. 0 or -1 with err. */
int gpumem_accounting_read(const char *path, struct gpumem_usage *u, char *err, int errlen);

/* One occupied slot as the host reads it: a process as the container reports it (its pid is the
 * container's own, inside its pid namespace). */
struct gpumem_process {
  int32_t pid;
  int32_t driver_unseen;            /* NVML gives no per-process figure for it */
  uint64_t used[GPUMEM_MAX_GPUS];   /* charged per GPU, driver-taken memory included */
  uint64_t driver[GPUMEM_MAX_GPUS]; /* of which driver-taken (capped at used) */
};

/* The occupied slots, in slot order: the first max into out, how many there are in *count.
 * 0 or -1 with err. */
int gpumem_accounting_read_processes(const char *path, struct gpumem_process *out, int max,
                                     int *count, char *err, int errlen);

/* As gpumem_accounting_read, the first n per-GPU totals and the occupied slots only. */
int gpumem_accounting_read_usage(const char *path, uint64_t *used_per_gpu, int n, int *slots_used,
                                 char *err, int errlen);

#endif
