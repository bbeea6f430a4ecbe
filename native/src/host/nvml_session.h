/* NVML for one host-library call: loaded and initialised at its start, shut down and unloaded at
 * its end, so that hosts without an NVIDIA driver still run everything else. */
#ifndef GPUMEM_HOST_NVML_SESSION_H
#define GPUMEM_HOST_NVML_SESSION_H

#include "../common/nvml.h"

struct nvml_session {
  void *lib;
  nvmlReturn_t (*shutdown)(void);
};

/* Loads libnvidia-ml.so.1 and initialises it; 0, or -1 with err (nothing to close then). */
int nvml_session_open(struct nvml_session *s, char *err, int errlen);

/* A function of the open library, or NULL. */
void *nvml_session_sym(const struct nvml_session *s, const char *name);

void nvml_session_close(struct nvml_session *s);

/* Writes "<msg> (NVML error <code>)" into err (may be NULL); returns -1. */
int nvml_fail(char *err, int errlen, const char *msg, int code);

#endif
