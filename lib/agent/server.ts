/**
 * `gpumem agent`: a resident host process that makes the create-time decision for the runtime
 * shim, and sets and clears the driver's own memory limit of the containers it limited (R615+),
 * so that a limited container's start pays no Node start. One request per connection;
 * requests are decided one at a time (Node's one thread), which also serialises anything
 * host-wide a decision writes.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { constant } from '../ffi/native.js';
import { writeFileAtomic } from '../atomic-write.js';
import { bootInventory, create, type GpuInventory } from '../runtime/create.js';
import { removeStateDir, stateDir } from '../state.js';
import { sweepLeftoverState } from '../state-sweep.js';
import { log } from '../log.js';
import { parseRequest } from './request.js';
import { applyKernelLimit } from '../kernel-limit.js';

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

/** GPUs do not change while the host runs (MIG reconfiguration aside): the boot's inventory, kept in memory once read. */
function cachedInventory(): GpuInventory {
  let inv: ReturnType<GpuInventory['current']>;
  return { current: () => (inv ??= bootInventory.current()), refresh: () => (inv = bootInventory.refresh()) };
}

function handle(socket: Socket, inventory: GpuInventory): void {
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
    if (req.kind === 'kernel-limit') {
      const done = applyKernelLimit(req.op, req.containerId, inventory.current()); // logged there, one line
      socket.end(`${done.ok ? constant('agent_ready') : `${constant('agent_refused')} ${done.message}`}\n`, () => {});
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

/** Listens at path (its directory made first), the socket root-only from birth (no window with other modes); its inode. */
async function listenRootOnly(server: Server, path: string, beforeListen = (): void => {}): Promise<number> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  beforeListen();
  const old = process.umask(0o077);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } finally {
    process.umask(old);
  }
  chmodSync(path, 0o600);
  return statSync(path).ino;
}

const inodeOf = (path: string): number | null => {
  try {
    return statSync(path).ino;
  } catch {
    return null;
  }
};

/** Does the pid file name a live process other than this one (an agent started since)? */
function otherAgent(pidfile: string): boolean {
  let pid: number;
  try {
    pid = Number(readFileSync(pidfile, 'utf8').trim());
  } catch {
    return false;
  }
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** How often the agent checks that its socket is still there (the state root wiped). */
const SOCKET_CHECK_MS = 1000;

/** Listens until SIGTERM / SIGINT; the socket is root-only. Resolves once listening. */
export async function startAgent(opts: AgentOptions): Promise<Server> {
  if (existsSync(opts.socket)) {
    if (await answers(opts.socket)) throw new Error(`gpumem agent: another agent already answers at ${opts.socket}`);
    unlinkSync(opts.socket); // a dead agent's
  }
  // Before the socket appears: whoever sees the socket finds the pid.
  const writePid = (): void => writeFileAtomic(opts.pidfile, `${process.pid}\n`, 0o644, { durable: false });
  writePid();
  const inventory = cachedInventory();
  const newServer = (): Server => createServer({ allowHalfOpen: true }, (s) => handle(s, inventory));
  let server = newServer();
  let inode: number;
  try {
    inode = await listenRootOnly(server, opts.socket);
  } catch (e) {
    rmSync(opts.pidfile, { force: true });
    throw e;
  }
  sweepLeftoverState(); // what a crash or a killed shim left before this agent ran
  // The state root wiped under a running agent (by hand, or a tmpfs remounted): listen again,
  // or every start would pay a Node start. A socket that is another agent's is left to it.
  let relistening = false;
  const watch = setInterval(() => {
    if (relistening) return;
    const now = inodeOf(opts.socket);
    if (now === inode) return;
    if (now !== null) {
      if (otherAgent(opts.pidfile)) {
        log().warn({ socket: opts.socket }, 'another agent took over the socket: this one stops');
        process.exit(0);
      }
      rmSync(opts.socket, { force: true }); // no agent's: a leftover in the way
    }
    server.close();
    server = newServer();
    relistening = true;
    listenRootOnly(server, opts.socket, writePid).then(
      (ino) => {
        inode = ino;
        relistening = false;
        log().warn({ socket: opts.socket }, 'the agent socket was removed: listening again');
      },
      (e: Error) => {
        relistening = false; // tried again at the next check
        log().error({ socket: opts.socket }, `the agent socket was removed and cannot be made again: ${e.message}`);
      },
    );
  }, SOCKET_CHECK_MS); // also what keeps the agent alive while it listens again
  const stop = (): void => {
    clearInterval(watch);
    const ours = inodeOf(opts.socket) === inode; // before close, which unlinks the socket itself
    server.close();
    if (ours) for (const f of [opts.socket, opts.pidfile]) rmSync(f, { force: true });
    log().info({ socket: opts.socket }, 'agent stopped');
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  log().info({ socket: opts.socket, pid: process.pid }, 'agent listening');
  return server;
}
