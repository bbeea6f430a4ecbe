/* First definition of probe(); it forwards to the next one with dlsym(RTLD_NEXT), as wrappers do. */
#include <dlfcn.h>

int probe(void)
{
  int (*next)(void) = (int (*)(void))dlsym(RTLD_NEXT, "probe");
  if (!next || next == probe) return -1; /* resolved relative to the wrong library */
  return 100 + next();
}
