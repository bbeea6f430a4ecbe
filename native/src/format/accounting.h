/* The shared accounting region's layout, defined once: what every process of one container has
 * charged, per GPU. Its users: the interposer's ledger (accounting_ledger.h) and the host's
 * reader (accounting_reader.h). */
#ifndef GPUMEM_FORMAT_ACCOUNTING_H
#define GPUMEM_FORMAT_ACCOUNTING_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"

#define GPUMEM_ACCOUNTING_MAGIC "gpumemA\n"
/* 2: generation, context estimates; 3: driver-taken memory; 4: peak and refused per GPU */
#define GPUMEM_ACCOUNTING_VERSION 4
#define GPUMEM_MAX_SLOTS 1024

/* Slot flags. */
#define GPUMEM_SLOT_DRIVER_UNSEEN 1u /* NVML shows no per-process figure: driver-taken memory unseen */

/* One process. Slots are the source of truth; the per-GPU totals are a cache of their sum. */
struct gpumem_slot {
  int32_t pid;         /* 0 = free */
  uint32_t flags;      /* GPUMEM_SLOT_* */
  uint64_t start_time; /* /proc/<pid>/stat field 22, to tell a reused pid apart; 0 = unknown */
  uint64_t used[GPUMEM_MAX_GPUS];   /* everything charged, driver-taken memory included */
  uint64_t driver[GPUMEM_MAX_GPUS]; /* of which memory the driver took without an allocation
                                     * call (measured from NVML, plus what is held back for it) */
};

/* Fixed layout, mapped MAP_SHARED by every process; a file of exactly sizeof(struct). */
struct gpumem_region {
  char magic[8];
  uint32_t version;
  uint32_t header_size; /* offsetof(slots) */
  uint64_t total_size;
  uint32_t max_gpus;
  uint32_t max_slots;
  uint32_t slot_size;
  uint32_t reserved;
  /* Bumped by the host after it rewrites the (read-only) config; processes re-read the config
   * when it differs from what they saw. Only a hint: scribbling it causes a re-read, nothing else. */
  uint64_t generation;
  union {
    pthread_mutex_t mutex; /* process-shared, robust */
    char bytes[64];
  } lock;
  uint64_t used[GPUMEM_MAX_GPUS];
  /* Last measured cost of a CUDA context per GPU, reserved before the next context is created
   * so that creating it cannot pass the budget even for a moment. A hint like the generation. */
  uint64_t context_estimate[GPUMEM_MAX_GPUS];
  /* For gpumem ps and the exporter, container-written like everything here (a report, never
   * proof): the largest `used` the GPU's total ever reached (an atomic max wherever a charge is
   * recorded), and how many allocations the budget refused there (an atomic add per refusal). */
  uint64_t peak[GPUMEM_MAX_GPUS];
  uint64_t refused[GPUMEM_MAX_GPUS];
  struct gpumem_slot slots[GPUMEM_MAX_SLOTS];
};

/* Creates the region file (mode 0666), initialized. replace=1: temp + rename (the host's fresh
 * start); replace=0: temp + link, so a region already in use is never replaced (0 if one exists). */
int gpumem_accounting_create_file(const char *path, int replace, char *err, int errlen);

/* Checks a region's header; 0 or -1 with err. Never trusts the contents beyond what it checks.
 * size: the file's size; r holds at least its first min(size, offsetof(lock)) bytes. At another
 * size only magic and version are read (another release's region is named by its version). */
int gpumem_accounting_validate(const struct gpumem_region *r, uint64_t size, char *err, int errlen);

/* A message into err (may be NULL) for the accounting files' failures. */
void gpumem_accounting_err(char *err, int errlen, const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));

#endif
