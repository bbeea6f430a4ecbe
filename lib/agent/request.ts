/** Reads a request of the agent's protocol (native/src/client/agent_protocol.h): NUL-terminated fields. */
import { constant, quote, quoteName } from '../ffi/native.js';

export interface CreateRequest {
  /** The client's working directory: runc resolves a relative bundle and log against it. */
  cwd: string;
  /** runc's command line, as containerd gave it to the shim. */
  argv: string[];
}

/** The request, or a one-line reason it is not one. */
export function parseRequest(data: Buffer): CreateRequest | { error: string } {
  const fields = data.toString('utf8').split('\0');
  // Every field ends in NUL: the split leaves one empty string after the last.
  if (fields.pop() !== '') return { error: 'the request does not end with a complete field' };
  const [word, cwd, count, ...argv] = fields;
  if (word !== constant('agent_create')) return { error: `unknown request ${quote(word ?? '')}; expected ${constant('agent_create')}` };
  if (!cwd?.startsWith('/')) return { error: 'the request names no absolute working directory' };
  if (!/^\d+$/.test(count ?? '') || Number(count) !== argv.length) {
    return { error: `the request announces ${count === undefined ? 'no' : quoteName(count)} arguments and carries ${argv.length}` };
  }
  return { cwd, argv };
}
