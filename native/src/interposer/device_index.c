/* Maps CUDA device ordinals to the container's GPU indexes by UUID, so a budget and its counters
 * follow the GPU, not the order a process sees devices in: inside a container
 * CUDA_VISIBLE_DEVICES=1,0 (or UUIDs) reorders ordinals, and two processes with different orders
 * must still charge each GPU's one counter. Without uuid lines the index is the ordinal. */
#include "device_index.h"

#include <stdio.h>
#include <string.h>

#include "../common/cuda.h"
#include "driver_fns.h"
#include "fork_reset.h"
#include "say.h"

/* map[dev]: 0 = not looked up yet, 1 = not one of the container's GPUs, i + 2 = index i. Zero
 * is "not yet" so that the static array needs no initializer. */
static signed char map[GPUMEM_MAX_GPUS];
static char said[GPUMEM_MAX_GPUS];
static struct gpumem_config names; /* only its uuid lines are used */
static int have_uuids;

/* A child after fork() asks the driver again (as nvml_device.c does). */
static void after_fork_child(void)
{
  memset(map, 0, sizeof map);
  memset(said, 0, sizeof said);
}

void device_index_init(const struct gpumem_config *c)
{
  memcpy(names.uuid, c->uuid, sizeof names.uuid);
  have_uuids = gpumem_config_has_uuids(c);
  memset(map, 0, sizeof map);
  fork_reset_register(after_fork_child);
}

int device_index_same(const struct gpumem_config *c)
{
  return memcmp(names.uuid, c->uuid, sizeof names.uuid) == 0;
}

/* Slow path, once per device and process. A MIG device's cuDeviceGetUuid_v2 gives its MIG UUID's
 * bytes; cuDeviceGetUuid (before CUDA 11.4) only the GPU's. */
static int look_up(int dev)
{
  if (!have_uuids) {
    __atomic_store_n(&map[dev], (signed char)(dev + 2), __ATOMIC_RELAXED);
    return dev;
  }
  cuDeviceGetUuid_fn get_uuid = (cuDeviceGetUuid_fn)driver_fn(DRV_cuDeviceGetUuid_v2);
  if (!get_uuid) get_uuid = (cuDeviceGetUuid_fn)driver_fn(DRV_cuDeviceGetUuid);
  CUuuid id;
  if (!get_uuid || get_uuid(&id, dev) != CUDA_SUCCESS) return -1; /* not cached: asked again */
  int i = gpumem_config_uuid_index(&names, (const uint8_t *)id.bytes);
  __atomic_store_n(&map[dev], (signed char)(i < 0 ? 1 : i + 2), __ATOMIC_RELAXED);
  if (i < 0 && !__atomic_exchange_n(&said[dev], 1, __ATOMIC_RELAXED)) {
    const unsigned char *b = (const unsigned char *)id.bytes;
    char msg[300];
    snprintf(msg, sizeof msg,
             "CUDA device %d (UUID %02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
             "%02x%02x%02x%02x%02x%02x) is not one of this container's GPUs (no uuid line of its "
             "config names it): every allocation on it is refused",
             dev, b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
             b[13], b[14], b[15]);
    gpumem_say(msg);
  }
  return i;
}

int device_index(int dev)
{
  if ((unsigned)dev >= GPUMEM_MAX_GPUS) return -1;
  int v = __atomic_load_n(&map[dev], __ATOMIC_RELAXED);
  if (__builtin_expect(v >= 2, 1)) return v - 2;
  return v == 1 ? -1 : look_up(dev);
}

int device_index_of_nvml(unsigned int nvml_index, const char *uuid)
{
  if (!have_uuids) return nvml_index < GPUMEM_MAX_GPUS ? (int)nvml_index : -1;
  struct gpumem_uuid u;
  if (!uuid || gpumem_uuid_parse(uuid, strlen(uuid), &u)) return -1;
  return gpumem_config_uuid_index(&names, u.bytes);
}
