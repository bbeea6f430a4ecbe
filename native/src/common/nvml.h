/* The few NVML types, constants and prototypes gpumem uses, so no CUDA toolkit is needed. */
#ifndef GPUMEM_NVML_H
#define GPUMEM_NVML_H

/* Stable ABI: these match nvml.h (NVML API 11/12) on 64-bit Linux. */
typedef int nvmlReturn_t;
typedef struct nvmlDevice_st *nvmlDevice_t;

#define NVML_SUCCESS 0
#define NVML_ERROR_UNINITIALIZED 1
#define NVML_ERROR_INVALID_ARGUMENT 2
#define NVML_ERROR_NOT_SUPPORTED 3
#define NVML_ERROR_NO_PERMISSION 4
#define NVML_ERROR_NOT_FOUND 6
#define NVML_ERROR_INSUFFICIENT_SIZE 7
#define NVML_ERROR_LIBRARY_NOT_FOUND 12
#define NVML_ERROR_FUNCTION_NOT_FOUND 13
#define NVML_ERROR_ARGUMENT_VERSION_MISMATCH 25
#define NVML_ERROR_UNKNOWN 999

#define NVML_DEVICE_UUID_V2_BUFFER_SIZE 96
#define NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE 80

/* nvmlDeviceGetMigMode's current and pending modes. */
#define NVML_DEVICE_MIG_DISABLE 0
#define NVML_DEVICE_MIG_ENABLE 1

typedef struct {
  unsigned long long total;
  unsigned long long free;
  unsigned long long used;
} nvmlMemory_t;

typedef struct {
  unsigned int version; /* nvmlMemory_v2 */
  unsigned long long total;
  unsigned long long reserved;
  unsigned long long free;
  unsigned long long used;
} nvmlMemory_v2_t;

/* NVML_STRUCT_VERSION(Memory, 2): sizeof the struct | version << 24. */
#define nvmlMemory_v2 ((unsigned int)(sizeof(nvmlMemory_v2_t) | (2u << 24)))

/* What nvmlDeviceGetComputeRunningProcesses_v3 fills (nvmlProcessInfo_v2_t). */
typedef struct {
  unsigned int pid;
  unsigned long long usedGpuMemory;
  unsigned int gpuInstanceId;
  unsigned int computeInstanceId;
} nvmlProcessInfo_t;

/* nvmlDeviceSetMemoryLimits_v1's argument (R615+): a hard and soft limit on the device's memory for
 * the processes of one cgroup. Member order and names as documented
 * (docs.nvidia.com/deploy/nvml-api/api/structnvmlSetMemoryLimits__v1__t.html); no version field. */
typedef struct {
  const char *nameSpace; /* full path to the sysfs cgroup file name */
  unsigned long long softLimit;
  unsigned long long hardLimit;
} nvmlSetMemoryLimits_v1_t;

/* nvmlDeviceGetMemoryLimits_v1's: nameSpace in, the rest out. */
typedef struct {
  const char *nameSpace;
  unsigned long long softLimit;
  unsigned long long hardLimit;
  unsigned long long currentUsed;
} nvmlGetMemoryLimits_v1_t;

/* "No limit" for hardLimit (with softLimit 0): how a limit is cleared. NVML documents the name but
 * no header we could read defines its value; ~0ULL is our reading of "max", checked against
 * nothing real yet (our GPU runs 580). */
#define NVML_DEVICE_MEMORY_LIMIT_MAX (~0ULL)

typedef nvmlReturn_t (*nvmlInit_v2_fn)(void);
typedef nvmlReturn_t (*nvmlDeviceGetCount_v2_fn)(unsigned int *count);
typedef nvmlReturn_t (*nvmlDeviceGetHandleByIndex_v2_fn)(unsigned int index, nvmlDevice_t *device);
typedef nvmlReturn_t (*nvmlDeviceGetIndex_fn)(nvmlDevice_t device, unsigned int *index);
typedef nvmlReturn_t (*nvmlDeviceGetUUID_fn)(nvmlDevice_t device, char *uuid, unsigned int length);
typedef nvmlReturn_t (*nvmlDeviceGetMemoryInfo_fn)(nvmlDevice_t device, nvmlMemory_t *memory);
typedef nvmlReturn_t (*nvmlDeviceGetMemoryInfo_v2_fn)(nvmlDevice_t device, nvmlMemory_v2_t *memory);
typedef nvmlReturn_t (*nvmlDeviceGetComputeRunningProcesses_v3_fn)(nvmlDevice_t device,
                                                                   unsigned int *infoCount,
                                                                   nvmlProcessInfo_t *infos);

typedef nvmlReturn_t (*nvmlDeviceGetHandleByUUID_fn)(const char *uuid, nvmlDevice_t *device);
typedef nvmlReturn_t (*nvmlDeviceGetMinorNumber_fn)(nvmlDevice_t device, unsigned int *minorNumber);
typedef nvmlReturn_t (*nvmlSystemGetDriverVersion_fn)(char *version, unsigned int length);
/* MIG (Ampere and later; NVML_ERROR_NOT_SUPPORTED on GPUs without it). */
typedef nvmlReturn_t (*nvmlDeviceGetMigMode_fn)(nvmlDevice_t device, unsigned int *currentMode,
                                                unsigned int *pendingMode);
typedef nvmlReturn_t (*nvmlDeviceGetMaxMigDeviceCount_fn)(nvmlDevice_t device, unsigned int *count);
/* NVML_ERROR_NOT_FOUND when no MIG device exists at that index (indexes may have gaps). */
typedef nvmlReturn_t (*nvmlDeviceGetMigDeviceHandleByIndex_fn)(nvmlDevice_t device, unsigned int index,
                                                               nvmlDevice_t *migDevice);
typedef nvmlReturn_t (*nvmlDeviceIsMigDeviceHandle_fn)(nvmlDevice_t device, unsigned int *isMigDevice);
typedef nvmlReturn_t (*nvmlDeviceGetDeviceHandleFromMigDeviceHandle_fn)(nvmlDevice_t migDevice,
                                                                        nvmlDevice_t *device);
/* R615+; MIG handles are not supported. */
typedef nvmlReturn_t (*nvmlDeviceSetMemoryLimits_v1_fn)(nvmlDevice_t device,
                                                        nvmlSetMemoryLimits_v1_t *limits);
typedef nvmlReturn_t (*nvmlDeviceGetMemoryLimits_v1_fn)(nvmlDevice_t device,
                                                        nvmlGetMemoryLimits_v1_t *limits);

#endif
