/* The fake NVML's view of other processes' use of the fake devices (FAKE_CUDA_SHARED). */
#ifndef FAKE_NVML_PROCESSES_H
#define FAKE_NVML_PROCESSES_H

#include "../src/common/nvml.h"

/* Fills out[0..cap-1] with the processes holding memory on dev, under the caller's pids; returns
 * how many there are (may exceed cap), or -1 when FAKE_CUDA_SHARED names no readable file. */
int fake_shared_processes(unsigned int dev, nvmlProcessInfo_t *out, unsigned int cap);

#endif
