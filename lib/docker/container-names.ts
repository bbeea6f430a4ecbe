/**
 * The Docker names of the host's containers, by id, from one GET /containers/json?all=1 to the
 * local engine (the socket container-id.ts asks): for showing only, so an engine that is away,
 * slow or answers nonsense gives no names, never an error.
 */
import { request } from 'node:http';
import { dockerSocket } from './container-id.js';

/** Short: a listing must not wait on an engine that hangs; a name is a nicety. */
const TIMEOUT_MS = 1000;

/** id → name without docker's leading '/'; empty when the engine cannot be asked. */
export function containerNames(env: NodeJS.ProcessEnv = process.env): Promise<Map<string, string>> {
  const socket = dockerSocket(env);
  if ('unreachable' in socket) return Promise.resolve(new Map());
  return new Promise((resolve) => {
    const req = request({ socketPath: socket.path, path: '/containers/json?all=1', timeout: TIMEOUT_MS }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('error', () => resolve(new Map()));
      res.on('end', () => resolve(res.statusCode === 200 ? namesOf(body) : new Map()));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(new Map()));
    req.end();
  });
}

/** The engine's answer read without trusting its shape: entries that are not {Id, Names: [..]} are skipped. */
export function namesOf(body: string): Map<string, string> {
  const out = new Map<string, string>();
  let list: unknown;
  try {
    list = JSON.parse(body);
  } catch {
    return out;
  }
  if (!Array.isArray(list)) return out;
  for (const c of list as { Id?: unknown; Names?: unknown }[]) {
    // A container's own name has no further '/' (those with one are legacy links' aliases).
    const name = Array.isArray(c?.Names) ? c.Names.find((n): n is string => typeof n === 'string' && /^\/[^/]+$/.test(n)) : undefined;
    if (typeof c?.Id === 'string' && name) out.set(c.Id, name.slice(1));
  }
  return out;
}
