/**
 * The Docker names of containers by id, asked of the local engine's API in one request (the
 * socket lib/docker/container-id.ts asks); an empty map when no engine answers: a scrape never
 * waits long on Docker, nor fails for it.
 */
import { request } from 'node:http';
import { dockerSocket } from '../docker/container-id.js';

/** Well under Prometheus' default scrape timeout (10 s). */
const TIMEOUT_MS = 2000;

export function dockerNames(ids: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<Map<string, string>> {
  const socket = dockerSocket(env);
  if (ids.length === 0 || 'unreachable' in socket) return Promise.resolve(new Map());
  // Only the containers asked about: an engine may have thousands.
  const filters = encodeURIComponent(JSON.stringify({ id: ids }));
  return new Promise((resolve) => {
    const req = request({ socketPath: socket.path, path: `/containers/json?all=1&filters=${filters}`, timeout: TIMEOUT_MS }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('error', () => resolve(new Map()));
      res.on('end', () => resolve(res.statusCode === 200 ? namesIn(body, ids) : new Map()));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(new Map()));
    req.end();
  });
}

/** [{Id, Names: ["/name"]}, ...] as the engine lists containers; anything else names nothing. */
function namesIn(body: string, ids: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  let list: unknown;
  try {
    list = JSON.parse(body);
  } catch {
    return out;
  }
  if (!Array.isArray(list)) return out;
  for (const c of list as { Id?: unknown; Names?: unknown }[]) {
    if (!c || typeof c.Id !== 'string' || !ids.includes(c.Id) || !Array.isArray(c.Names)) continue;
    // A container's own name has no further '/' (those with one are legacy links' aliases).
    const own = (c.Names as unknown[]).find((n): n is string => typeof n === 'string' && /^\/[^/]+$/.test(n));
    if (own) out.set(c.Id, own.slice(1));
  }
  return out;
}
