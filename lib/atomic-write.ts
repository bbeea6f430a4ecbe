/** Replaces a file atomically: a crash leaves the old content or the new, never half of one. */
import { closeSync, fsyncSync, openSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/**
 * `durable: false` skips the fsync, for files that need not survive a crash of the host (a
 * bundle's spec, a pid file: gone with the containers at reboot), where it would only cost time.
 */
export function writeFileAtomic(path: string, data: string, mode?: number, opts: { durable?: boolean } = {}): void {
  let keepMode = mode;
  if (keepMode === undefined) {
    try {
      keepMode = statSync(path).mode & 0o7777;
    } catch {
      keepMode = 0o644;
    }
  }
  const tmp = join(dirname(path), `.${basename(path)}.gpumem-${process.pid}.tmp`);
  const fd = openSync(tmp, 'wx', keepMode);
  try {
    writeSync(fd, data);
    if (opts.durable !== false) fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    unlinkSync(tmp);
    throw e;
  }
  closeSync(fd);
  try {
    renameSync(tmp, path);
  } catch (e) {
    unlinkSync(tmp);
    throw e;
  }
}
