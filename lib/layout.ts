/** The host's state layout and the paths inside a container, as the C side defines them (native/src/common/layout.h). */
import { dirname, join } from 'node:path';
import { constant } from './ffi/native.js';

/** Host-side root of per-container state (tmpfs: gone at reboot, like the containers); GPUMEM_STATE_ROOT moves it for tests. */
export const stateRoot = (): string => process.env.GPUMEM_STATE_ROOT ?? constant('state_root');

/** The agent's unix socket and pid file, beside the containers' directories. */
export const agentSocket = (): string => join(stateRoot(), constant('agent_socket_name'));
export const agentPidfile = (): string => join(stateRoot(), constant('agent_pidfile_name'));
/** The host's GPUs as NVML listed them this boot (lib/gpu/inventory.ts). */
export const inventoryFile = (): string => join(stateRoot(), constant('inventory_file'));
/** Held while an admission decision reads the ledger and writes its entry. */
export const ledgerLock = (): string => join(stateRoot(), constant('ledger_lock'));

/**
 * Names under the state root that are gpumem's own, never a container's. Also the names of the
 * directories a container sees there: a host with /run/gpumem/config would look to a standalone
 * interposer like a container whose budget is gone.
 */
export const reservedNames = (): string[] => [
  constant('agent_socket_name'), constant('agent_pidfile_name'), constant('config_dir'), constant('shared_dir'),
  constant('inventory_file'), constant('ledger_lock'),
];

/** A container's state, relative to its directory on the host and to the state root inside. */
export const relative = {
  configDir: (): string => constant('config_dir'),
  configFile: (): string => constant('config_file'),
  sharedDir: (): string => constant('shared_dir'),
  accountingFile: (): string => constant('accounting_file'),
  /** Host only: how to find the container's processes and GPUs later (lib/truth/host-record.ts). */
  hostRecordFile: (): string => constant('host_record_file'),
  /** Host only: there when the shim must set the driver's own memory limit after create, clear it before delete (lib/kernel-limit.ts). */
  kernelLimitMarker: (): string => constant('kernel_limit_marker'),
};

/** Where the interposer looks inside a container. */
export function containerPaths(): {
  interposer: string;
  interposerDir: string;
  preload: string;
  configDir: string;
  sharedDir: string;
  accounting: string;
} {
  const root = constant('state_root');
  return {
    interposer: constant('container_library'),
    interposerDir: dirname(constant('container_library')),
    preload: constant('container_preload'),
    configDir: join(root, relative.configDir()),
    sharedDir: join(root, relative.sharedDir()),
    accounting: join(root, relative.accountingFile()),
  };
}
