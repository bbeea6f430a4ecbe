/**
 * A container's id from what `docker update` takes (a name, an id or an id prefix), asked of the
 * local engine's API over its unix socket: DOCKER_HOST when it is unix://, else
 * /var/run/docker.sock. The API rather than the docker CLI: the CLI may be missing where the engine
 * runs, and its context may point at another host, whose containers gpumem does not limit.
 */
import { request } from 'node:http';

export type DockerLookup =
  | { id: string }
  /** The engine answered: no such container (or not one it can tell, e.g. an ambiguous prefix). */
  | { notFound: string }
  /** No engine to ask, or no answer from it. */
  | { unreachable: string };

const TIMEOUT_MS = 5000;
// What docker itself takes: a name ([a-zA-Z0-9][a-zA-Z0-9_.-]*, optionally after '/') or hex.
const REFERENCE = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** The engine's socket, or why there is none to ask. */
export function dockerSocket(env: NodeJS.ProcessEnv = process.env): { path: string } | { unreachable: string } {
  const host = env.DOCKER_HOST;
  if (host === undefined || host === '') return { path: '/var/run/docker.sock' };
  if (host.startsWith('unix://')) return { path: host.slice('unix://'.length) };
  return { unreachable: `DOCKER_HOST=${host} is not a unix socket, and gpumem asks only the engine on this host` };
}

/**
 * GET path of the local engine's API: its status and body, or why it could not be asked (no unix
 * socket, nothing listening, no answer within timeoutMs). The one client every Docker question uses.
 */
export function engineGet(path: string, timeoutMs: number, env: NodeJS.ProcessEnv = process.env): Promise<{ status: number; body: string } | { unreachable: string }> {
  const socket = dockerSocket(env);
  if ('unreachable' in socket) return Promise.resolve(socket);
  return new Promise((resolve) => {
    const req = request({ socketPath: socket.path, path, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('error', (e) => resolve({ unreachable: `the Docker API at ${socket.path} broke off its answer (${e.message})` }));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs / 1000} s`)));
    req.on('error', (e) => resolve({ unreachable: `the Docker API at ${socket.path} is not reachable (${(e as NodeJS.ErrnoException).code ?? e.message})` }));
    req.end();
  });
}

export async function containerId(reference: string, env: NodeJS.ProcessEnv = process.env): Promise<DockerLookup> {
  if (!REFERENCE.test(reference)) return { notFound: 'not a container name or id' };
  const r = await engineGet(`/containers/${encodeURIComponent(reference.replace(/^\//, ''))}/json`, TIMEOUT_MS, env);
  if ('unreachable' in r) return r;
  const where = `the Docker API at ${(dockerSocket(env) as { path: string }).path}`;
  let json: { Id?: unknown; message?: unknown } = {};
  try {
    json = JSON.parse(r.body) as typeof json;
  } catch {
    // judged by the status below
  }
  if (r.status === 200 && typeof json.Id === 'string' && /^[0-9a-f]{64}$/.test(json.Id)) return { id: json.Id };
  if (r.status === 200) return { unreachable: `${where} answered without a container id` };
  return { notFound: typeof json.message === 'string' ? json.message : `${where} answered ${r.status}` };
}
