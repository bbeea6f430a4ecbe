/* The shared accounting region: what every process of one container has charged, per GPU. */
#ifndef GPUMEM_FORMAT_ACCOUNTING_H
#define GPUMEM_FORMAT_ACCOUNTING_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"

#define GPUMEM_ACCOUNTING_MAGIC "gpumemA\n"
#define GPUMEM_ACCOUNTING_VERSION 3 /* 2: generation, context estimates; 3: driver-taken memory */
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
  struct gpumem_slot slots[GPUMEM_MAX_SLOTS];
};

/* Creates the region file (mode 0666), initialized. replace=1: temp + rename (the host's fresh
 * start); replace=0: temp + link, so a region already in use is never replaced (0 if one exists). */
int gpumem_accounting_create_file(const char *path, int replace, char *err, int errlen);

/* Maps an existing region read-write after validating it; NULL with err on failure
 * (*missing = 1 when the file does not exist). */
struct gpumem_region *gpumem_accounting_attach(const char *path, int *missing, char *err,
                                               int errlen);

/* Checks a region's header; 0 or -1 with err. Never trusts the contents beyond what it checks. */
int gpumem_accounting_validate(const struct gpumem_region *r, uint64_t size, char *err, int errlen);

/* Takes a slot for (pid, start_time); reclaims dead processes' slots first. Slot index or -1. */
int gpumem_accounting_join(struct gpumem_region *r, pid_t pid, uint64_t start_time);

/* Gives back everything the slot holds and frees it. */
void gpumem_accounting_leave(struct gpumem_region *r, int slot);

/* Charges bytes on GPU dev to slot, unless that would pass budget (0 = no budget): then dead
 * processes are reclaimed and it is tried once more. 0 = charged, -1 = over budget or broken. */
int gpumem_accounting_reserve(struct gpumem_region *r, int slot, int dev, uint64_t bytes,
                              uint64_t budget);

/* As gpumem_accounting_reserve; reclaim = 0 skips the dead-process scan (kill + /proc reads)
 * that a refused reservation would otherwise do, for callers that rate-limit it themselves. */
int gpumem_accounting_try_reserve(struct gpumem_region *r, int slot, int dev, uint64_t bytes,
                                  uint64_t budget, int reclaim);

/* Returns a charge taken by gpumem_accounting_reserve. */
void gpumem_accounting_release(struct gpumem_region *r, int slot, int dev, uint64_t bytes);

/* Sets the driver-taken part of a slot's charge on dev to bytes (used moves by the difference).
 * Growing is refused (-1, nothing changed) when it would pass budget; budget 0 never refuses:
 * memory the driver already took is charged whatever the budget says. */
int gpumem_accounting_set_driver(struct gpumem_region *r, int slot, int dev, uint64_t bytes,
                                 uint64_t budget);

/* A slot's charge on dev, and the driver-taken part of it; one consistent reading. */
void gpumem_accounting_slot_charge(struct gpumem_region *r, int slot, int dev, uint64_t *used,
                                   uint64_t *driver);

/* Sets (on = 1) or clears flag bits of a slot. */
void gpumem_accounting_slot_flag(struct gpumem_region *r, int slot, uint32_t flag, int on);

/* Frees the slots of processes that no longer exist; returns how many. */
int gpumem_accounting_reclaim(struct gpumem_region *r);

/* Start time of a process from /proc/<pid>/stat (field 22), 0 if unknown. */
uint64_t gpumem_process_start_time(pid_t pid);

/* Host side: tells the processes using the region at path that the config changed (generation
 * + 1, one pwrite; never maps the file). Validates the header first. 0 or -1 with err. */
int gpumem_accounting_bump_generation(const char *path, char *err, int errlen);

/* What the host reads of a region. */
struct gpumem_usage {
  uint64_t used[GPUMEM_MAX_GPUS];   /* recorded per-GPU totals */
  uint64_t driver[GPUMEM_MAX_GPUS]; /* of which driver-taken, summed over the occupied slots */
  int slots_used;                   /* occupied process slots */
  int driver_unseen;                /* of which NVML gives no per-process figure for */
};

/* Host-side reader: copies the file (never maps it: a container could truncate it under us),
 * validates it and fills *u. 0 or -1 with err. */
int gpumem_accounting_read(const char *path, struct gpumem_usage *u, char *err, int errlen);

/* As gpumem_accounting_read, the first n per-GPU totals and the occupied slots only. */
int gpumem_accounting_read_usage(const char *path, uint64_t *used_per_gpu, int n, int *slots_used,
                                 char *err, int errlen);

#endif
