/**
 * Decision log for the shim, the agent and the CLI: JSON lines (pino), never in a container's way.
 * Where and how much: GPUMEM_LOG_FILE / GPUMEM_LOG_LEVEL, else the host policy's logFile and
 * logLevel (applied at each decision, so a changed policy needs no restart), else
 * /var/log/gpumem.log at info.
 */
import { statSync } from 'node:fs';
import { pino, type Logger } from 'pino';

const DEFAULT_FILE = '/var/log/gpumem.log';
const DEFAULT_LEVEL = 'info';

let wanted = { file: DEFAULT_FILE, level: DEFAULT_LEVEL };
let logger: Logger | undefined;
let made: { file: string; level: string } | undefined;
let destination: { destroy: () => void } | undefined;

export const logFile = (): string => process.env.GPUMEM_LOG_FILE ?? wanted.file;
const logLevel = (): string => process.env.GPUMEM_LOG_LEVEL ?? wanted.level;

const inode = (file: string): number | undefined => {
  try {
    return statSync(file).ino;
  } catch {
    return undefined;
  }
};
let madeInode: number | undefined;

/**
 * The policy's choice, at each decision; the environment still wins. A log file moved away
 * (rotated, removed) is opened again, so a long-lived agent never writes to a file no one sees.
 */
export function configureLog(opts: { file: string; level: string }): void {
  wanted = opts;
  if (logger && made && inode(made.file) !== madeInode) made = undefined;
}

export function log(): Logger {
  const file = logFile();
  const level = logLevel();
  if (logger && made?.file === file && made.level === level) return logger;
  made = { file, level };
  destination?.destroy(); // a long-lived agent whose policy moved the log keeps no old descriptor
  destination = undefined;
  try {
    // Synchronous: the shim and hook are short-lived and exit right after they decide.
    const dest = pino.destination({ dest: file, sync: true, mkdir: true });
    destination = dest;
    madeInode = inode(file);
    logger = pino({ level, base: { pid: process.pid } }, dest);
  } catch {
    // A host without a writable log must still start containers.
    logger = pino({ enabled: false });
  }
  return logger;
}
