/* The interposer config file: the budget the host grants a container, one per GPU. */
#ifndef GPUMEM_FORMAT_CONFIG_H
#define GPUMEM_FORMAT_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define GPUMEM_MAX_GPUS 64
#define GPUMEM_CONFIG_MAGIC "gpumem-config 1"
#define GPUMEM_CONFIG_MAX_BYTES 8192
/* "GPU-" or "MIG-" and 8-4-4-4-12 hex digits: 40 characters. */
#define GPUMEM_UUID_TEXT_LEN 40

enum gpumem_uuid_kind { GPUMEM_UUID_NONE = 0, GPUMEM_UUID_GPU = 1, GPUMEM_UUID_MIG = 2 };

/* A GPU's UUID as NVML prints it: the kind is its prefix, bytes the 16 the driver's
 * cuDeviceGetUuid_v2 gives (for a MIG device: the MIG UUID's). */
struct gpumem_uuid {
  uint8_t kind; /* enum gpumem_uuid_kind; NONE = no uuid line */
  uint8_t bytes[16];
};

/* limit_all: for every GPU (0 = none); limit_per_gpu[i]: GPU i (0 = not set, use limit_all).
 * uuid[i]: the container's GPU i is the device with this UUID. Without any uuid line, GPU i is
 * CUDA device ordinal i (as before uuid lines existed). */
struct gpumem_config {
  uint64_t limit_all;
  uint64_t limit_per_gpu[GPUMEM_MAX_GPUS];
  struct gpumem_uuid uuid[GPUMEM_MAX_GPUS];
};

/* Budget of the container's GPU i: limit.<i>, else limit, else 0 (no budget). */
uint64_t gpumem_config_budget(const struct gpumem_config *cfg, int dev);

/* Whether any uuid.<i> line is present (then devices are matched by UUID, not by ordinal). */
int gpumem_config_has_uuids(const struct gpumem_config *cfg);

/* The container index whose uuid line has these 16 bytes, or -1. */
int gpumem_config_uuid_index(const struct gpumem_config *cfg, const uint8_t bytes[16]);

/* Parses exactly len characters as "GPU-" or "MIG-" and 8-4-4-4-12 hex digits (either case);
 * 0, or -1 (out untouched). */
int gpumem_uuid_parse(const char *s, size_t len, struct gpumem_uuid *out);

/* Writes the UUID NVML's way (prefix, lowercase hex) into out (at least 41 bytes). */
void gpumem_uuid_format(const struct gpumem_uuid *u, char *out, size_t outlen);

/* Reads and strictly validates; returns 0, 1 when the file does not exist, or -1 with err. */
int gpumem_config_load(const char *path, struct gpumem_config *cfg, char *err, int errlen);

/* Writes atomically (temp file in the same dir, then rename), mode 0644; 0 or -1 with err. */
int gpumem_config_store(const char *path, const struct gpumem_config *cfg, char *err, int errlen);

#endif
