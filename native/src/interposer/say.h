/* How the interposer tells the user something: one line on stderr. */
#ifndef GPUMEM_SAY_H
#define GPUMEM_SAY_H

/* One line to stderr, prefixed "gpumem: ". */
void gpumem_say(const char *what);

#endif
