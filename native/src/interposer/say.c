/* Writes the interposer's messages to the user: one line on stderr each. */
#include "say.h"

#include <stdio.h>
#include <unistd.h>

#include "../format/quote.h"

/* write(2) rather than stdio so nothing is buffered or reentered. */
void gpumem_say(const char *what)
{
  char line[GPUMEM_MESSAGE_MAX + 16];
  int n = snprintf(line, sizeof line, "gpumem: %s\n", what);
  if (n > (int)sizeof line - 1) n = (int)sizeof line - 1;
  ssize_t ignored = write(2, line, (size_t)n);
  (void)ignored;
}
