/* gpumem_constant(): the names and numbers host code must agree on with the C side (the state
 * layout, the agent's protocol, the most GPUs), so TypeScript and install.sh never re-declare
 * them. */
#include <stddef.h>
#include <string.h>

#include "../../include/gpumem_host.h"
#include "../client/agent_protocol.h"
#include "../common/layout.h"
#include "../format/config.h"
#include "../format/limit.h"

#define STR_(x) #x
#define STR(x) STR_(x)

static const struct {
  const char *name, *value;
} constants[] = {
    {"state_root", GPUMEM_STATE_ROOT},
    {"config_dir", GPUMEM_CONFIG_DIR},
    {"config_file", GPUMEM_CONFIG_FILE},
    {"shared_dir", GPUMEM_SHARED_DIR},
    {"accounting_file", GPUMEM_ACCOUNTING_FILE},
    {"agent_socket_name", GPUMEM_AGENT_SOCKET_NAME},
    {"agent_pidfile_name", GPUMEM_AGENT_PIDFILE_NAME},
    {"host_record_file", GPUMEM_HOST_RECORD_FILE},
    {"kernel_limit_marker", GPUMEM_KERNEL_LIMIT_MARKER},
    {"inventory_file", GPUMEM_INVENTORY_FILE},
    {"ledger_lock", GPUMEM_LEDGER_LOCK},
    {"container_library", GPUMEM_CONTAINER_LIBRARY},
    {"container_preload", GPUMEM_CONTAINER_PRELOAD},
    {"agent_create", GPUMEM_AGENT_CREATE},
    {"agent_ready", GPUMEM_AGENT_READY},
    {"agent_refused", GPUMEM_AGENT_REFUSED},
    {"agent_kernel_limit", GPUMEM_AGENT_KERNEL_LIMIT},
    {"kernel_limit_set", GPUMEM_KERNEL_LIMIT_SET},
    {"kernel_limit_clear", GPUMEM_KERNEL_LIMIT_CLEAR},
    {"max_gpus", STR(GPUMEM_MAX_GPUS)},
    {"limit_help", GPUMEM_LIMIT_HELP},
};

__attribute__((visibility("default"))) const char *gpumem_constant(const char *name) {
  for (size_t i = 0; name && i < sizeof constants / sizeof constants[0]; i++)
    if (!strcmp(constants[i].name, name)) return constants[i].value;
  return NULL;
}
