/** Decision log for the shim and hook: JSON lines (pino) in /var/log/gpumem.log, never in a container's way. */
import { pino, type Logger } from 'pino';

export const logFile = (): string => process.env.GPUMEM_LOG_FILE ?? '/var/log/gpumem.log';

let logger: Logger | undefined;

export function log(): Logger {
  if (logger) return logger;
  const level = process.env.GPUMEM_LOG_LEVEL ?? 'info';
  try {
    // Synchronous: the shim and hook are short-lived and exit right after they decide.
    logger = pino({ level, base: { pid: process.pid } }, pino.destination({ dest: logFile(), sync: true, mkdir: true }));
  } catch {
    // A host without a writable log must still start containers.
    logger = pino({ enabled: false });
  }
  return logger;
}
