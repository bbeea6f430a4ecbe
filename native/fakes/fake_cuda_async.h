/* What fake_cuda.c asks fake_cuda_async.c (stream-ordered allocation, pools, graph memory). */
#ifndef FAKE_CUDA_ASYNC_H
#define FAKE_CUDA_ASYNC_H

#include "../src/common/cuda_api.h"

/* The entry cuGetProcAddress hands out for symbol at cudaVersion and flags (flags = 2: the _ptsz
 * entry where there is one), or NULL; sets *known when the base name is one of ours. */
__attribute__((visibility("hidden"))) void *fake_async_proc(const char *symbol, int cudaVersion,
                                                            cuuint64_t flags, int *known);

#endif
