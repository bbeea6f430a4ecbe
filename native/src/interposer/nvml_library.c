/* Loads the real libnvidia-ml.so.1 lazily and resolves its functions through glibc's dlsym, so
 * what gpumem measures is the device as it is, not as our own wrappers present it. */
#include "nvml_library.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>

#include "libc_dlsym.h"

static pthread_once_t open_once = PTHREAD_ONCE_INIT, init_once = PTHREAD_ONCE_INIT;
static void *handle;
static struct nvml_library api;
static int usable;

static void open_library(void)
{
  gpumem_dlsym_init();
  /* A program linked with NVML already has it loaded: this is then the same instance. */
  handle = dlopen("libnvidia-ml.so.1", RTLD_LAZY | RTLD_LOCAL);
}

void *nvml_library_sym(const char *name)
{
  pthread_once(&open_once, open_library);
  return handle ? gpumem_real_dlsym(handle, name) : NULL;
}

static void init_library(void)
{
  nvmlInit_v2_fn init = (nvmlInit_v2_fn)nvml_library_sym("nvmlInit_v2");
  api.count = (nvmlDeviceGetCount_v2_fn)nvml_library_sym("nvmlDeviceGetCount_v2");
  api.handle_by_index =
    (nvmlDeviceGetHandleByIndex_v2_fn)nvml_library_sym("nvmlDeviceGetHandleByIndex_v2");
  api.index = (nvmlDeviceGetIndex_fn)nvml_library_sym("nvmlDeviceGetIndex");
  api.uuid = (nvmlDeviceGetUUID_fn)nvml_library_sym("nvmlDeviceGetUUID");
  api.memory = (nvmlDeviceGetMemoryInfo_fn)nvml_library_sym("nvmlDeviceGetMemoryInfo");
  api.processes = (nvmlDeviceGetComputeRunningProcesses_v3_fn)nvml_library_sym(
    "nvmlDeviceGetComputeRunningProcesses_v3");
  /* NVML counts nvmlInit calls; ours is never shut down, so the program's own
   * nvmlShutdown cannot pull NVML out from under a later measurement. */
  usable = init && api.count && api.handle_by_index && api.uuid && api.memory &&
           init() == NVML_SUCCESS;
}

const struct nvml_library *nvml_library(void)
{
  pthread_once(&init_once, init_library);
  return usable ? &api : NULL;
}
