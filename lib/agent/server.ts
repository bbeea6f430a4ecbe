/**
 * `gpumem agent`: a resident host process that makes the create-time decision for the runtime
 * shim, so that a limited container's start pays no Node start. One request per connection;
 * requests are decided one at a time (Node's one thread), which also serialises anything
 * host-wide a decision writes.
 */
import { chmodSync, existsSync, rmSync, unlinkSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { constant, hostGpus, type HostGpu } from '../ffi/native.js';
import { writeFileAtomic } from '../atomic-write.js';
import { create } from '../runtime/create.js';
import { removeStateDir, stateDir } from '../state.js';
import { log } from '../log.js';
import { parseRequest } from './request.js';

export interface AgentOptions {
  socket: string;
  pidfile: string;
}

/** Is an agent answering at this socket? (A socket file alone may be a dead agent's.) */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** GPUs do not change while the host runs (MIG reconfiguration aside): asked once, when first needed. */
function cachedInventory(): () => readonly HostGpu[] {
  let gpus: HostGpu[] | undefined;
  return () => (gpus ??= hostGpus());
}

function handle(socket: Socket, inventory: () => readonly HostGpu[]): void {
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.on('error', () => {}); // a client that vanished; 'close' follows
  socket.on('end', () => {
    const req = parseRequest(Buffer.concat(chunks));
    if ('error' in req) {
      const message = `gpumem: bad request to the gpumem agent: ${req.error}`;
      log().error({ outcome: 'refused' }, message); // no container: the request did not name one
      socket.end(`${constant('agent_refused')} ${message}\n`);
      return;
    }
    const outcome = create(req.argv, req.cwd, inventory); // a refusal is logged there, as one line
    const answer = outcome.ok ? constant('agent_ready') : `${constant('agent_refused')} ${outcome.message}`;
    socket.end(answer + '\n', () => {});
    socket.once('error', () => {
      // The shim is gone (killed): runc will not run for this container, so nothing may stay.
      if (outcome.ok && outcome.decision.action === 'limit') {
        removeStateDir(stateDir(outcome.containerId));
        log().warn({ container: outcome.containerId }, 'the runtime shim left before the answer: state removed');
      }
    });
  });
}

/** Listens until SIGTERM / SIGINT; the socket is root-only. Resolves once listening. */
export async function startAgent(opts: AgentOptions): Promise<Server> {
  if (existsSync(opts.socket)) {
    if (await answers(opts.socket)) throw new Error(`gpumem agent: another agent already answers at ${opts.socket}`);
    unlinkSync(opts.socket); // a dead agent's
  }
  // Before the socket appears: whoever sees the socket finds the pid.
  writeFileAtomic(opts.pidfile, `${process.pid}\n`, 0o644, { durable: false });
  const inventory = cachedInventory();
  const server = createServer({ allowHalfOpen: true }, (s) => handle(s, inventory));
  const old = process.umask(0o077); // the socket is born root-only: no window with other modes
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e) => {
        rmSync(opts.pidfile, { force: true });
        reject(e);
      });
      server.listen(opts.socket, () => resolve());
    });
  } finally {
    process.umask(old);
  }
  chmodSync(opts.socket, 0o600);
  const stop = (): void => {
    server.close();
    for (const f of [opts.socket, opts.pidfile]) rmSync(f, { force: true });
    log().info({ socket: opts.socket }, 'agent stopped');
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  log().info({ socket: opts.socket, pid: process.pid }, 'agent listening');
  return server;
}
