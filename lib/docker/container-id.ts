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

export function containerId(reference: string, env: NodeJS.ProcessEnv = process.env): Promise<DockerLookup> {
  if (!REFERENCE.test(reference)) return Promise.resolve({ notFound: 'not a container name or id' });
  const socket = dockerSocket(env);
  if ('unreachable' in socket) return Promise.resolve(socket);
  const where = `the Docker API at ${socket.path}`;
  return new Promise((resolve) => {
    const req = request(
      { socketPath: socket.path, path: `/containers/${encodeURIComponent(reference.replace(/^\//, ''))}/json`, timeout: TIMEOUT_MS },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => {
          let json: { Id?: unknown; message?: unknown } = {};
          try {
            json = JSON.parse(body) as typeof json;
          } catch {
            // judged by the status below
          }
          if (res.statusCode === 200 && typeof json.Id === 'string' && /^[0-9a-f]{64}$/.test(json.Id)) resolve({ id: json.Id });
          else if (res.statusCode === 200) resolve({ unreachable: `${where} answered without a container id` });
          else resolve({ notFound: typeof json.message === 'string' ? json.message : `${where} answered ${res.statusCode}` });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${TIMEOUT_MS / 1000} s`)));
    req.on('error', (e) => resolve({ unreachable: `${where} is not reachable (${(e as NodeJS.ErrnoException).code ?? e.message})` }));
    req.end();
  });
}
