/* Asking the gpumem agent to decide one `runc create`, or to set or clear the kernel's memory
 * limit of a container it decided (agent_client.c). */
#ifndef GPUMEM_AGENT_CLIENT_H
#define GPUMEM_AGENT_CLIENT_H

enum agent_answer {
  AGENT_READY = 0,   /* the bundle is ready, or gpumem leaves it alone */
  AGENT_REFUSED = 1, /* bad input: the reason is in runc's --log file for the engine, and on stderr */
  AGENT_NONE = 3,    /* no agent answered (none running, or it died before answering) */
};

/* args: runc's command line (global flags, subcommand, its flags, the id), nargs of them. */
int agent_create(const char *socket_path, int nargs, char **args);

/* op: GPUMEM_KERNEL_LIMIT_SET or _CLEAR (agent_protocol.h); id: a container with state. AGENT_REFUSED
 * (the reason on stderr and in the agent's log) when it could not be done; never writes runc's log,
 * as neither a create nor a delete fails for it. */
int agent_kernel_limit(const char *socket_path, const char *op, const char *id);

#endif
