/* Prints probe(): 102 when librtld-next-a.so's RTLD_NEXT look-up resolved relative to itself. */
#include <stdio.h>

int probe(void);

int main(void)
{
  printf("{\"probe\":%d}\n", probe());
  return 0;
}
