/* The one table of driver functions gpumem wraps, and where their real addresses are kept. */
#ifndef GPUMEM_SYMBOLS_H
#define GPUMEM_SYMBOLS_H

enum gpumem_sym {
  SYM_cuMemAlloc_v2,
  SYM_cuMemFree_v2,
  SYM_cuMemGetInfo_v2,
  SYM_cuDeviceTotalMem_v2,
  SYM_cuGetProcAddress,
  SYM_cuGetProcAddress_v2,
  SYM_COUNT
};

struct gpumem_symbol {
  const char *base;  /* the name cuGetProcAddress is asked for */
  const char *name;  /* the exported, versioned name (dlsym, -lcuda) */
  int min_version;   /* lowest cudaVersion at which base means name */
  void *wrapper;     /* ours */
  void *real;        /* the driver's; set before the wrapper is ever handed out */
};

/* Row whose exported name is name, or NULL. */
struct gpumem_symbol *symbols_by_name(const char *name);

/* Row that cuGetProcAddress(base, cudaVersion) resolves to, or NULL (not ours at that version). */
struct gpumem_symbol *symbols_by_base(const char *base, int cuda_version);

/* Records the driver's address for a row; ignores our own wrapper (RTLD_DEFAULT finds ours). */
void symbols_set_real(struct gpumem_symbol *s, void *real);

/* The driver's address for a row, resolved on first need when we were reached via -lcuda. */
void *symbols_real(enum gpumem_sym id);

/* A driver function we call but do not wrap (e.g. cuCtxGetDevice), or NULL. */
void *symbols_driver(const char *name);

#endif
