/* Module and library loads: with CUDA_MODULE_LOADING=EAGER (and for what a lazy load does take
 * at once) the driver puts code on the device inside these calls. What it took is measured
 * right after; a load that no longer fits the budget is unloaded again and refused with
 * CUDA_ERROR_OUT_OF_MEMORY, before anything could run from it. */
#include "../common/cuda_api.h"
#include "budget.h"
#include "charge.h"
#include "current_device.h"
#include "driver_fns.h"
#include "export.h"
#include "reconcile.h"
#include "symbols.h"

/* The device whose budget a load is measured against, or -1: no budget or no context. */
static int load_device(void)
{
  CUdevice dev;
  if (budget_mode() != BUDGET_ENFORCE || current_device(&dev) != CUDA_SUCCESS) return -1;
  return dev;
}

static CUresult settle_module(CUresult rc, int dev, CUmodule *module)
{
  if (rc != CUDA_SUCCESS || dev < 0 || !module) return rc;
  if (reconcile_now(dev, RECONCILE_STRICT) == 0) return rc;
  cuModuleUnload_fn unload = (cuModuleUnload_fn)driver_fn(DRV_cuModuleUnload);
  if (unload) unload(*module);
  *module = NULL;
  reconcile_now(dev, RECONCILE_FREED);
  return charge_refused(dev);
}

static CUresult settle_library(CUresult rc, int dev, CUlibrary *library)
{
  if (rc != CUDA_SUCCESS || dev < 0 || !library) return rc;
  if (reconcile_now(dev, RECONCILE_STRICT) == 0) return rc;
  cuLibraryUnload_fn unload = (cuLibraryUnload_fn)driver_fn(DRV_cuLibraryUnload);
  if (unload) unload(*library);
  *library = NULL;
  reconcile_now(dev, RECONCILE_FREED);
  return charge_refused(dev);
}

GPUMEM_EXPORT CUresult cuModuleLoad(CUmodule *module, const char *fname)
{
  cuModuleLoad_fn real = (cuModuleLoad_fn)symbols_real(SYM_cuModuleLoad);
  if (!real) return CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND;
  int dev = load_device();
  return settle_module(real(module, fname), dev, module);
}

GPUMEM_EXPORT CUresult cuModuleLoadData(CUmodule *module, const void *image)
{
  cuModuleLoadData_fn real = (cuModuleLoadData_fn)symbols_real(SYM_cuModuleLoadData);
  if (!real) return CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND;
  int dev = load_device();
  return settle_module(real(module, image), dev, module);
}

GPUMEM_EXPORT CUresult cuModuleLoadDataEx(CUmodule *module, const void *image, unsigned int n,
                                          CUjit_option *options, void **values)
{
  cuModuleLoadDataEx_fn real = (cuModuleLoadDataEx_fn)symbols_real(SYM_cuModuleLoadDataEx);
  if (!real) return CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND;
  int dev = load_device();
  return settle_module(real(module, image, n, options, values), dev, module);
}

GPUMEM_EXPORT CUresult cuModuleLoadFatBinary(CUmodule *module, const void *fatCubin)
{
  cuModuleLoadFatBinary_fn real = (cuModuleLoadFatBinary_fn)symbols_real(SYM_cuModuleLoadFatBinary);
  if (!real) return CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND;
  int dev = load_device();
  return settle_module(real(module, fatCubin), dev, module);
}

GPUMEM_EXPORT CUresult cuLibraryLoadData(CUlibrary *library, const void *code,
                                         CUjit_option *jitOptions, void **jitOptionsValues,
                                         unsigned int numJitOptions,
                                         CUlibraryOption *libraryOptions,
                                         void **libraryOptionValues,
                                         unsigned int numLibraryOptions)
{
  cuLibraryLoadData_fn real = (cuLibraryLoadData_fn)symbols_real(SYM_cuLibraryLoadData);
  if (!real) return CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND;
  int dev = load_device();
  return settle_library(real(library, code, jitOptions, jitOptionsValues, numJitOptions,
                             libraryOptions, libraryOptionValues, numLibraryOptions),
                        dev, library);
}

GPUMEM_EXPORT CUresult cuLibraryLoadFromFile(CUlibrary *library, const char *fileName,
                                             CUjit_option *jitOptions, void **jitOptionsValues,
                                             unsigned int numJitOptions,
                                             CUlibraryOption *libraryOptions,
                                             void **libraryOptionValues,
                                             unsigned int numLibraryOptions)
{
  cuLibraryLoadFromFile_fn real = (cuLibraryLoadFromFile_fn)symbols_real(SYM_cuLibraryLoadFromFile);
  if (!real) return CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND;
  int dev = load_device();
  return settle_library(real(library, fileName, jitOptions, jitOptionsValues, numJitOptions,
                             libraryOptions, libraryOptionValues, numLibraryOptions),
                        dev, library);
}
