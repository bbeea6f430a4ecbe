/** Reads a request of the agent's protocol (native/src/client/agent_protocol.h): NUL-terminated fields. */
import { constant, quote, quoteName } from '../ffi/native.js';
import { kernelLimitOp, type KernelLimitOp } from '../kernel-limit.js';

export interface CreateRequest {
  kind: 'create';
  /** The client's working directory: runc resolves a relative bundle and log against it. */
  cwd: string;
  /** runc's command line, as containerd gave it to the shim. */
  argv: string[];
}

/** Set or clear the driver's own memory limit of a container gpumem prepared (lib/kernel-limit.ts). */
export interface KernelLimitRequest {
  kind: 'kernel-limit';
  op: KernelLimitOp;
  containerId: string;
}

export type AgentRequest = CreateRequest | KernelLimitRequest;

/** The request, or a one-line reason it is not one. */
export function parseRequest(data: Buffer): AgentRequest | { error: string } {
  const fields = data.toString('utf8').split('\0');
  // Every field ends in NUL: the split leaves one empty string after the last.
  if (fields.pop() !== '') return { error: 'the request does not end with a complete field' };
  const [word, ...rest] = fields;
  if (word === constant('agent_kernel_limit')) return kernelLimitRequest(rest);
  if (word !== constant('agent_create')) {
    return { error: `unknown request ${quote(word ?? '')}; expected ${constant('agent_create')} or ${constant('agent_kernel_limit')}` };
  }
  const [cwd, count, ...argv] = rest;
  if (!cwd?.startsWith('/')) return { error: 'the request names no absolute working directory' };
  if (!/^\d+$/.test(count ?? '') || Number(count) !== argv.length) {
    return { error: `the request announces ${count === undefined ? 'no' : quoteName(count)} arguments and carries ${argv.length}` };
  }
  return { kind: 'create', cwd, argv };
}

function kernelLimitRequest(rest: string[]): KernelLimitRequest | { error: string } {
  const set = constant('kernel_limit_set'), clear = constant('kernel_limit_clear');
  const [op, containerId] = rest;
  if (rest.length !== 2 || containerId === undefined || containerId === '') {
    return { error: `a ${constant('agent_kernel_limit')} request carries ${set} or ${clear} and a container id; this one has ${rest.length} field${rest.length === 1 ? '' : 's'}` };
  }
  const known = kernelLimitOp(op);
  if (!known) return { error: `unknown kernel limit operation ${quote(op ?? '')}; expected ${set} or ${clear}` };
  return { kind: 'kernel-limit', op: known, containerId };
}
