/* Layout of the file FAKE_CUDA_SHARED names: every process's use of the fake devices, so a test
 * can see the peak that all processes of a container together ever held (a real GPU is one
 * device for all processes; the fake one is per process), and the fake NVML of a host tool can
 * list the processes using the fake devices, as the real driver lists every process on a GPU. */
#ifndef FAKE_CUDA_SHARED_H
#define FAKE_CUDA_SHARED_H

#include <pthread.h>
#include <stdint.h>

#define FAKE_SHARED_DEVICES 4
#define FAKE_SHARED_SLOTS 256

struct fake_shared {
  union {
    pthread_mutex_t mutex; /* process-shared, robust: holders get SIGKILLed in the storm test */
    char bytes[64];
  } lock;
  uint32_t initialized;  /* 0x5ca1ab1e once the mutex is set up */
  uint32_t reserved;
  uint64_t total[FAKE_SHARED_DEVICES]; /* sum of live slots */
  uint64_t peak[FAKE_SHARED_DEVICES];  /* highest total ever, after dead processes are dropped */
  struct {
    int32_t pid; /* as the process sees itself: in its own pid namespace */
    uint32_t reserved;
    /* That pid namespace (st_dev and st_ino of /proc/self/ns/pid; 0: unknown), so that a reader
     * in another namespace (the host) can find the process under the pid it has there. */
    uint64_t ns_dev, ns_ino;
    uint64_t used[FAKE_SHARED_DEVICES]; /* everything the process holds on the device */
    uint64_t nvml[FAKE_SHARED_DEVICES]; /* of it, what NVML counts (managed memory left out) */
  } slots[FAKE_SHARED_SLOTS];
};

#endif
