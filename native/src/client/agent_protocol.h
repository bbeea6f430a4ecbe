/* The words of the agent's protocol (gpumem-create <-> `gpumem agent`), defined once; the agent
 * reads them through gpumem_constant(). A request is NUL-terminated fields, ended by the end of
 * the client's half of the stream, one of:
 *   GPUMEM_AGENT_CREATE, the working directory, the number of runc arguments, the arguments;
 *   GPUMEM_AGENT_KERNEL_LIMIT, GPUMEM_KERNEL_LIMIT_SET or _CLEAR, the container id (the driver's
 *     own per-cgroup limit, R615+, set after runc created the container, cleared before delete).
 * The answer is one line: GPUMEM_AGENT_READY, or GPUMEM_AGENT_REFUSED followed by a space and the
 * message (for a create, the one `docker run` shows). */
#ifndef GPUMEM_AGENT_PROTOCOL_H
#define GPUMEM_AGENT_PROTOCOL_H

#define GPUMEM_AGENT_CREATE "gpumem-create/1"
#define GPUMEM_AGENT_READY "ready"
#define GPUMEM_AGENT_REFUSED "refused"
#define GPUMEM_AGENT_KERNEL_LIMIT "gpumem-kernel-limit/1"
#define GPUMEM_KERNEL_LIMIT_SET "set"
#define GPUMEM_KERNEL_LIMIT_CLEAR "clear"

#endif
