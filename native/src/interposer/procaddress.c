/* cuGetProcAddress wrappers: how cudart 12/13 reach every driver function, by base name at a
 * version. The driver answers first (flags, versions, symbolStatus are its business); then, if
 * the answer is a function in our table, the caller gets our wrapper instead. */
#include "../common/cuda.h"
#include "export.h"
#include "symbols.h"

static void substitute(const char *symbol, void **pfn, int cuda_version, cuuint64_t flags)
{
  if (!pfn || !*pfn) return; /* success with a NULL pointer is passed on unchanged */
  struct gpumem_symbol *s = symbols_by_base(symbol, cuda_version, flags); /* flags: _ptsz rows */
  if (!s || *pfn == s->wrapper) return;
  symbols_set_real(s, *pfn); /* stored before the wrapper can be called */
  *pfn = s->wrapper;
}

GPUMEM_EXPORT CUresult cuGetProcAddress(const char *symbol, void **pfn, int cudaVersion,
                                        cuuint64_t flags)
{
  cuGetProcAddress_fn real = (cuGetProcAddress_fn)symbols_real(SYM_cuGetProcAddress);
  if (!real) return CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND;
  CUresult rc = real(symbol, pfn, cudaVersion, flags);
  if (rc == CUDA_SUCCESS) substitute(symbol, pfn, cudaVersion, flags);
  return rc;
}

GPUMEM_EXPORT CUresult cuGetProcAddress_v2(const char *symbol, void **pfn, int cudaVersion,
                                           cuuint64_t flags,
                                           CUdriverProcAddressQueryResult *symbolStatus)
{
  cuGetProcAddress_v2_fn real = (cuGetProcAddress_v2_fn)symbols_real(SYM_cuGetProcAddress_v2);
  if (!real) return CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND;
  CUresult rc = real(symbol, pfn, cudaVersion, flags, symbolStatus);
  if (rc == CUDA_SUCCESS) substitute(symbol, pfn, cudaVersion, flags);
  return rc;
}
