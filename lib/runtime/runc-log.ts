/** Errors for `docker run` to show: containerd prints the last JSON line runc's --log file holds. */
import { appendFileSync } from 'node:fs';

export function reportToEngine(logPath: string | undefined, message: string): void {
  const line = JSON.stringify({ level: 'error', msg: message, time: new Date().toISOString() }) + '\n';
  if (logPath) {
    try {
      appendFileSync(logPath, line);
    } catch {
      // Fall through to stderr, which containerd also keeps.
    }
  }
  process.stderr.write(message + '\n');
}
