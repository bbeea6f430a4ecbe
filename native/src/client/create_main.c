/* gpumem-create SOCKET RUNC-ARGS...: the agent client on its own, for tests and for a person
 * asking why a create was refused; exits with agent_create's answer (agent_client.h). */
#include <stdio.h>

#include "agent_client.h"

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: gpumem-create SOCKET RUNC-ARGS...\n");
    return 2;
  }
  return agent_create(argv[1], argc - 2, argv + 2);
}
