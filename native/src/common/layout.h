/* Where gpumem's files are, written down once: the host keeps one directory per container under
 * GPUMEM_STATE_ROOT, laid out as the container sees it (its config directory and accounting
 * region are bind-mounted at the same relative paths under GPUMEM_STATE_ROOT inside). Host code
 * reads these through gpumem_constant() (native/include/gpumem_host.h). */
#ifndef GPUMEM_LAYOUT_H
#define GPUMEM_LAYOUT_H

#define GPUMEM_STATE_ROOT "/run/gpumem"
/* Relative to a container's state directory (host) or to GPUMEM_STATE_ROOT (container). */
#define GPUMEM_CONFIG_DIR "config"
#define GPUMEM_CONFIG_FILE GPUMEM_CONFIG_DIR "/gpumem.conf"
#define GPUMEM_SHARED_DIR "shared"
#define GPUMEM_ACCOUNTING_FILE GPUMEM_SHARED_DIR "/accounting"
/* Host only: the agent's socket and pid file, beside the containers' directories (so no
 * container id may take these names). */
#define GPUMEM_AGENT_SOCKET_NAME "agent.sock"
#define GPUMEM_AGENT_PIDFILE_NAME "agent.pid"
/* Host only, in a container's state directory (never mounted into it): how the host finds the
 * container's processes and GPUs later, to check its region against NVML (JSON, lib/truth). */
#define GPUMEM_HOST_RECORD_FILE "host.json"
/* Host only, in a container's state directory: present when the decision found the driver's own
 * per-cgroup limit applicable (R615+, cgroup v2, a budget on a whole GPU), so that the shim asks
 * for it after create and before delete with one open(), no JSON; absent, nothing is asked. */
#define GPUMEM_KERNEL_LIMIT_MARKER "kernel-limit"

/* Beside the containers' directories: the host's GPUs as NVML listed them this boot, and the lock
 * that serialises admission decisions (host-wide: the agent and any in-process decision alike). */
#define GPUMEM_INVENTORY_FILE "inventory.json"
#define GPUMEM_LEDGER_LOCK "ledger.lock"
/* Inside a container: where the interposer and the generated preload list are mounted. */
#define GPUMEM_CONTAINER_LIBRARY "/usr/local/lib/gpumem/libgpumem.so"
#define GPUMEM_CONTAINER_PRELOAD "/etc/ld.so.preload"

#endif
