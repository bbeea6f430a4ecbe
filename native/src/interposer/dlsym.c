/* Interposes dlsym, so programs that dlopen the driver (cudart, PyTorch) get our wrappers.
 *
 * glibc resolves dlsym(RTLD_NEXT, x) relative to the library that called it, found from the
 * return address. A C wrapper calling the real dlsym would make every RTLD_NEXT look-up in the
 * process relative to libgpumem.so and break other interposers; so the entry point is a few lines
 * of assembly that ask the table and, for names that are not ours, jump (not call) to glibc's
 * dlsym with the caller's return address still on the stack. */
#include <stddef.h>

#include "libc_dlsym.h"
#include "symbols.h"

/* Our wrapper for a table name, once the real address is stored; NULL: let glibc answer. */
__attribute__((visibility("hidden"), used)) void *gpumem_dlsym_lookup(void *handle,
                                                                      const char *name)
{
  gpumem_dlsym_init();
  if (!name) return NULL;
  struct gpumem_symbol *s = symbols_by_name(name);
  if (!s) return NULL;
  void *real = gpumem_real_dlsym(handle, name);
  if (!real || real == s->wrapper) return NULL; /* not found, or it found our own export */
  symbols_set_real(s, real);
  return s->wrapper;
}

#if defined(__x86_64__)
/* dlsym@GLIBC_2.2.5 for old binaries, dlsym@@GLIBC_2.34 for new ones: same code. */
__asm__(
  "  .text\n"
  "  .globl gpumem_dlsym_old\n"
  "  .globl gpumem_dlsym_new\n"
  "  .type gpumem_dlsym_old,@function\n"
  "  .type gpumem_dlsym_new,@function\n"
  "  .symver gpumem_dlsym_old,dlsym@GLIBC_2.2.5\n"
  "  .symver gpumem_dlsym_new,dlsym@@GLIBC_2.34\n"
  "  .p2align 4\n"
  "gpumem_dlsym_old:\n"
  "gpumem_dlsym_new:\n"
  "  .cfi_startproc\n"
  "  pushq %rdi\n"
  "  .cfi_adjust_cfa_offset 8\n"
  "  pushq %rsi\n"
  "  .cfi_adjust_cfa_offset 8\n"
  "  subq $8, %rsp\n" /* 16-byte alignment for the call */
  "  .cfi_adjust_cfa_offset 8\n"
  "  call gpumem_dlsym_lookup\n"
  "  addq $8, %rsp\n"
  "  .cfi_adjust_cfa_offset -8\n"
  "  popq %rsi\n"
  "  .cfi_adjust_cfa_offset -8\n"
  "  popq %rdi\n"
  "  .cfi_adjust_cfa_offset -8\n"
  "  testq %rax, %rax\n"
  "  jz 1f\n"
  "  ret\n"
  "1:\n"
  "  jmp *gpumem_real_dlsym(%rip)\n" /* tail call: glibc sees our caller's return address */
  "  .cfi_endproc\n"
  "  .size gpumem_dlsym_old, .-gpumem_dlsym_old\n"
  "  .size gpumem_dlsym_new, .-gpumem_dlsym_new\n");
#else
#error "dlsym interposition is written for x86_64; add the equivalent tail-call stub for this arch"
#endif
