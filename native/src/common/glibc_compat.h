/* Pins glibc symbol versions to old ones so the libraries load in containers with glibc >= 2.17. */
#ifndef GPUMEM_GLIBC_COMPAT_H
#define GPUMEM_GLIBC_COMPAT_H

/* Included first in every file linked into a shipped library (see Makefile -include).
 * Linking on a new glibc binds e.g. dlsym@GLIBC_2.34 or pthread_mutex_consistent@GLIBC_2.34,
 * which an Ubuntu 20.04 or CentOS 7 image cannot satisfy. The old versions still exist in
 * every newer glibc as compatibility symbols, so asking for them explicitly is safe. On old
 * glibc they live in libdl.so.2 / libpthread.so.0, which the Makefile adds as DT_NEEDED. */
#if defined(__x86_64__)
__asm__(".symver dlopen,dlopen@GLIBC_2.2.5");
__asm__(".symver dlclose,dlclose@GLIBC_2.2.5");
__asm__(".symver dlvsym,dlvsym@GLIBC_2.2.5");
__asm__(".symver dlerror,dlerror@GLIBC_2.2.5");
__asm__(".symver dladdr,dladdr@GLIBC_2.2.5");
__asm__(".symver memcpy,memcpy@GLIBC_2.2.5");
__asm__(".symver pthread_mutexattr_setrobust,pthread_mutexattr_setrobust@GLIBC_2.12");
__asm__(".symver pthread_mutex_consistent,pthread_mutex_consistent@GLIBC_2.12");
__asm__(".symver pthread_mutexattr_init,pthread_mutexattr_init@GLIBC_2.2.5");
__asm__(".symver pthread_mutexattr_destroy,pthread_mutexattr_destroy@GLIBC_2.2.5");
__asm__(".symver pthread_mutexattr_setpshared,pthread_mutexattr_setpshared@GLIBC_2.2.5");
__asm__(".symver pthread_mutex_init,pthread_mutex_init@GLIBC_2.2.5");
__asm__(".symver pthread_mutex_lock,pthread_mutex_lock@GLIBC_2.2.5");
__asm__(".symver pthread_mutex_unlock,pthread_mutex_unlock@GLIBC_2.2.5");
__asm__(".symver pthread_once,pthread_once@GLIBC_2.2.5");
/* the reconcile thread (reconcile.c) */
__asm__(".symver pthread_create,pthread_create@GLIBC_2.2.5");
__asm__(".symver pthread_join,pthread_join@GLIBC_2.2.5");
__asm__(".symver pthread_sigmask,pthread_sigmask@GLIBC_2.2.5");
#endif

#endif
