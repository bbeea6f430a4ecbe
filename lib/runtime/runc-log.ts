/** A refused create, told where it must be seen: the decision log, and runc's --log file, whose last JSON line containerd prints. */
import { appendFileSync } from 'node:fs';
import { oneLine } from '../ffi/native.js';
import { log } from '../log.js';

/**
 * Writes the refusal as one line (a message may quote the spec, even a JSON parser's excerpt of
 * it) to the decision log, runc's log and stderr; returns that line, for the agent's answer.
 */
export function reportToEngine(logPath: string | undefined, message: string, containerId?: string): string {
  const msg = oneLine(message);
  log().error({ container: containerId, outcome: 'refused' }, msg);
  const line = JSON.stringify({ level: 'error', msg, time: new Date().toISOString() }) + '\n';
  if (logPath) {
    try {
      appendFileSync(logPath, line);
    } catch {
      // Fall through to stderr, which containerd also keeps.
    }
  }
  process.stderr.write(msg + '\n');
  return msg;
}
