/* The interposer config file: the budget the host grants a container, one per GPU. */
#ifndef GPUMEM_FORMAT_CONFIG_H
#define GPUMEM_FORMAT_CONFIG_H

#include <stdint.h>

#define GPUMEM_MAX_GPUS 64
#define GPUMEM_CONFIG_MAGIC "gpumem-config 1"
#define GPUMEM_CONFIG_MAX_BYTES 8192

/* limit_all: for every GPU (0 = none); limit_per_gpu[i]: GPU i (0 = not set, use limit_all). */
struct gpumem_config {
  uint64_t limit_all;
  uint64_t limit_per_gpu[GPUMEM_MAX_GPUS];
};

/* Budget of one device ordinal: limit.<i>, else limit, else 0 (no budget). */
uint64_t gpumem_config_budget(const struct gpumem_config *cfg, int dev);

/* Reads and strictly validates; returns 0, 1 when the file does not exist, or -1 with err. */
int gpumem_config_load(const char *path, struct gpumem_config *cfg, char *err, int errlen);

/* Writes atomically (temp file in the same dir, then rename), mode 0644; 0 or -1 with err. */
int gpumem_config_store(const char *path, const struct gpumem_config *cfg, char *err, int errlen);

#endif
