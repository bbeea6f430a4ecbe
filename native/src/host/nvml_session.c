/* NVML for one host-library call (nvml_session.h): the load and the initialisation every NVML
 * query of the host library starts with. */
#include "nvml_session.h"

#include <dlfcn.h>
#include <stdio.h>

/* glibc_compat.h leaves dlsym alone (the interposer defines its own); this file only calls it. */
__asm__(".symver dlsym,dlsym@GLIBC_2.2.5");

int nvml_fail(char *err, int errlen, const char *msg, int code)
{
  /* 0: no NVML call answered (the library is missing): no NVML error to name. */
  if (err && errlen > 0 && code == 0) snprintf(err, (size_t)errlen, "%s", msg);
  else if (err && errlen > 0) snprintf(err, (size_t)errlen, "%s (NVML error %d)", msg, code);
  return -1;
}

int nvml_session_open(struct nvml_session *s, char *err, int errlen)
{
  s->lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!s->lib) return nvml_fail(err, errlen, "NVML (libnvidia-ml.so.1) is not available on this host", 0);
  nvmlInit_v2_fn init = (nvmlInit_v2_fn)dlsym(s->lib, "nvmlInit_v2");
  s->shutdown = (nvmlReturn_t(*)(void))dlsym(s->lib, "nvmlShutdown");
  nvmlReturn_t r = NVML_ERROR_FUNCTION_NOT_FOUND;
  if (init && s->shutdown && (r = init()) == NVML_SUCCESS) return 0;
  dlclose(s->lib);
  s->lib = NULL;
  return nvml_fail(err, errlen,
                   r == NVML_ERROR_FUNCTION_NOT_FOUND ? "NVML lacks a function gpumem needs"
                                                      : "NVML did not initialise",
                   r);
}

void *nvml_session_sym(const struct nvml_session *s, const char *name)
{
  return s->lib ? dlsym(s->lib, name) : NULL;
}

void nvml_session_close(struct nvml_session *s)
{
  if (!s->lib) return;
  s->shutdown();
  dlclose(s->lib);
  s->lib = NULL;
}
