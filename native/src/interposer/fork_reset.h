/* What a child of fork() must forget, registered by each module with one pthread_atfork handler. */
#ifndef GPUMEM_FORK_RESET_H
#define GPUMEM_FORK_RESET_H

/* reset runs in the child of every later fork(), before fork() returns there, after the resets
 * registered before it. A reset only reinitializes its own module's locks and state: it takes no
 * lock and calls into no other module, so any order is safe. Registering a reset again does
 * nothing. */
void fork_reset_register(void (*reset)(void));

#endif
