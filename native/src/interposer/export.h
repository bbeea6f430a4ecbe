/* Marks the few functions libgpumem.so exports; everything else is hidden (-fvisibility=hidden). */
#ifndef GPUMEM_EXPORT_H
#define GPUMEM_EXPORT_H

#define GPUMEM_EXPORT __attribute__((visibility("default")))

/* Returned when the real driver function cannot be found at all. */
#define CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND 302

#endif
