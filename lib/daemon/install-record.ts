/** Registers gpumem in a daemon.json file and takes it back out, remembering exactly what was there before. */
import { existsSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { writeFileAtomic } from '../atomic-write.js';
import { RUNTIME_NAME, formatDaemonJson, parseDaemonJson, register, unregister } from './daemon-json.js';

/** Kept beside the installation so --uninstall can put daemon.json back as it was. */
export interface InstallRecord {
  daemonJson: string;
  /** The file's content before gpumem first touched it; null if there was no file. */
  before: string | null;
  /** What gpumem wrote; if the file still holds exactly this, uninstall restores `before` byte for byte. */
  written: string;
  previousDefault?: string;
  /** release-default named runc in place of gpumem where no default was named before: unregister takes it out again. */
  placeholderDefault?: true;
  lowerRuntimePath?: string;
}

const readIfExists = (path: string): string | undefined => (existsSync(path) ? readFileSync(path, 'utf8') : undefined);

function readRecord(recordPath: string): InstallRecord | undefined {
  const text = readIfExists(recordPath);
  return text === undefined ? undefined : (JSON.parse(text) as InstallRecord);
}

export interface RegisterOptions {
  daemonJson: string;
  runtimePath: string;
  makeDefault: boolean;
  recordPath: string;
}

/** What a registration would write, touching nothing (install.sh --dry-run shows it as a diff). */
export function planRegistration(o: RegisterOptions) {
  const current = readIfExists(o.daemonJson);
  const config = parseDaemonJson(current, o.daemonJson);
  const old = readRecord(o.recordPath);
  // Re-installing over our own edit: the original "before" stays the one to restore.
  const reinstall = old !== undefined && old.daemonJson === o.daemonJson && old.written === current;
  const previousDefault = reinstall ? old.previousDefault : (config['default-runtime'] as string | undefined);
  const base = reinstall ? unregister(config, previousDefault, o.daemonJson) : config;
  const { config: next, lowerRuntimePath } = register(base, o.runtimePath, o.makeDefault, o.daemonJson);
  return { current, old, reinstall, previousDefault, lowerRuntimePath, written: formatDaemonJson(next) };
}

/** Returns the lower runtime gpumem must chain to (undefined: runc). Throws, touching nothing, on a bad file. */
export function registerRuntime(o: RegisterOptions): string | undefined {
  const { current, old, reinstall, previousDefault, lowerRuntimePath, written } = planRegistration(o);
  if (current !== undefined && !reinstall) writeFileSync(`${o.daemonJson}.gpumem-backup`, current, { mode: 0o600 });
  const record: InstallRecord = {
    daemonJson: o.daemonJson,
    before: reinstall ? old!.before : (current ?? null),
    written,
    ...(previousDefault !== undefined && { previousDefault }),
    ...(lowerRuntimePath !== undefined && { lowerRuntimePath }),
  };
  writeFileAtomic(o.recordPath, JSON.stringify(record, null, 2) + '\n', 0o600);
  writeFileAtomic(o.daemonJson, written, current === undefined ? 0o644 : undefined);
  return lowerRuntimePath;
}

/**
 * First half of an uninstall: dockerd reloads only the keys a file names, so dropping
 * "default-runtime" would leave gpumem its default. Name the previous default explicitly (runc if
 * none) while runtime gpumem still exists, for dockerd to reload before the file goes back.
 * Returns whether the file changed.
 */
export function releaseDefault(recordPath: string): boolean {
  const record = readRecord(recordPath);
  if (!record) return false;
  const current = readIfExists(record.daemonJson);
  if (current === undefined) return false;
  const config = parseDaemonJson(current, record.daemonJson);
  if (config['default-runtime'] !== RUNTIME_NAME) return false;
  const written = formatDaemonJson({ ...config, 'default-runtime': record.previousDefault ?? 'runc' });
  writeFileAtomic(record.daemonJson, written);
  // Still ours: the exact restore that follows must recognise it; a placeholder runc goes again.
  const next: InstallRecord = {
    ...record,
    ...(current === record.written && { written }),
    ...(record.previousDefault === undefined && { placeholderDefault: true as const }),
  };
  writeFileAtomic(recordPath, JSON.stringify(next, null, 2) + '\n', 0o600);
  return true;
}

/** Puts daemon.json back: byte for byte if nobody edited it since, else by removing only gpumem's keys. */
export function unregisterRuntime(recordPath: string): { restored: 'exact' | 'merged' | 'nothing'; daemonJson?: string } {
  const record = readRecord(recordPath);
  if (!record) return { restored: 'nothing' };
  const current = readIfExists(record.daemonJson);
  if (current === record.written) {
    if (record.before === null) unlinkSync(record.daemonJson);
    else writeFileAtomic(record.daemonJson, record.before);
    unlinkSync(recordPath);
    return { restored: 'exact', daemonJson: record.daemonJson };
  }
  if (current !== undefined) {
    const config = unregister(parseDaemonJson(current, record.daemonJson), record.previousDefault, record.daemonJson);
    if (record.placeholderDefault && config['default-runtime'] === 'runc') delete config['default-runtime'];
    writeFileAtomic(record.daemonJson, formatDaemonJson(config));
  }
  unlinkSync(recordPath);
  return { restored: 'merged', daemonJson: record.daemonJson };
}
