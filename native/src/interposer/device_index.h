/* Which of the container's GPUs a device is: the index its budget and the region's counters use. */
#ifndef GPUMEM_DEVICE_INDEX_H
#define GPUMEM_DEVICE_INDEX_H

#include "../format/config.h"

/* The container's GPUs as the first config loaded names them (uuid lines; none: index =
 * ordinal). Fixed for the process's life: its charges are recorded by index. */
void device_index_init(const struct gpumem_config *c);

/* Whether c names the same GPUs (the same uuid lines) as the config device_index_init had. */
int device_index_same(const struct gpumem_config *c);

/* The container index of CUDA device ordinal dev: dev itself without uuid lines; else the i whose
 * uuid line has dev's UUID (cuDeviceGetUuid_v2), looked up once per process; -1 when no line
 * names it (said once: nothing is granted on it), when dev is out of range, or when the driver
 * cannot tell its UUID yet. After the first look-up: one array load. */
int device_index(int dev);

/* The container index of the NVML device with NVML index nvml_index and UUID uuid (NVML's text;
 * read only when there are uuid lines): nvml_index without uuid lines, else as above, -1. */
int device_index_of_nvml(unsigned int nvml_index, const char *uuid);

#endif
