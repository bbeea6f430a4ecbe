/* The words of the agent's protocol (gpumem-create <-> `gpumem agent`), defined once; the agent
 * reads them through gpumem_constant(). A request is NUL-terminated fields, ended by the end of
 * the client's half of the stream: GPUMEM_AGENT_CREATE, the working directory, the number of
 * runc arguments, the arguments. The answer is one line: GPUMEM_AGENT_READY, or
 * GPUMEM_AGENT_REFUSED followed by a space and the message `docker run` shows. */
#ifndef GPUMEM_AGENT_PROTOCOL_H
#define GPUMEM_AGENT_PROTOCOL_H

#define GPUMEM_AGENT_CREATE "gpumem-create/1"
#define GPUMEM_AGENT_READY "ready"
#define GPUMEM_AGENT_REFUSED "refused"

#endif
