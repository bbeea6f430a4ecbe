/** What gpumem doctor looks at on this host (all I/O); checks.ts judges it. Nothing here changes anything. */
import { spawnSync } from 'node:child_process';
import { accessSync, constants as fsc, existsSync, lstatSync, readFileSync, realpathSync } from 'node:fs';
import { get } from 'node:http';
import { connect } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDaemonJson, RUNTIME_NAME } from '../daemon/daemon-json.js';
import { engineGet } from '../docker/container-id.js';
import { gpuInventory } from '../ffi/native.js';
import { agentPidfile, agentSocket, containerPaths, stateRoot } from '../layout.js';
import { ledgerEntries } from '../ledger.js';
import { loadPolicy, policyFile } from '../policy/load.js';
import { limitedContainers } from '../state-lookup.js';
import { leftoverState } from '../state-sweep.js';
import type { Facts } from './checks.js';

/** The install this program is part of: PREFIX/lib/gpumem (dist/lib/doctor/facts.js is three below it). */
const APP = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const EXPORTER_UNIT = '/etc/systemd/system/gpumem-exporter.service';

export interface Options {
  /** daemon.json to read; default: the one install.sh registered in (its install record), else /etc/docker/daemon.json. */
  daemonJson?: string;
  /** An image to run the interposer test container from; none: that check is skipped. */
  image?: string;
  /** The dynamically linked program in it that prints files (default cat). */
  probe?: string;
  /** Where the exporter serves; default: its unit's --listen, else 127.0.0.1:9400. */
  exporter?: string;
}

const real = (p: string): string | null => {
  try {
    return realpathSync(p);
  } catch {
    return null;
  }
};

/** This install's runtime: the installed one, or in a checkout the built one. */
function expectedRuntime(): string {
  const installed = join(APP, 'bin', 'gpumem-runtime');
  return existsSync(installed) ? installed : join(APP, 'native', 'build', 'gpumem-runtime');
}

function recordedDaemonJson(): string | undefined {
  try {
    const r = JSON.parse(readFileSync(join(APP, 'install-record.json'), 'utf8')) as { daemonJson?: unknown };
    return typeof r.daemonJson === 'string' ? r.daemonJson : undefined;
  } catch {
    return undefined;
  }
}

function daemonJson(path: string, expected: string): Facts['daemonJson'] {
  const none = { path, runtimePath: null, runtimeExecutable: false, sameInstall: false };
  let text: string | undefined;
  try {
    text = existsSync(path) ? readFileSync(path, 'utf8') : undefined;
  } catch (e) {
    return { ...none, error: `${path} cannot be read: ${(e as Error).message}` };
  }
  try {
    const runtimes = parseDaemonJson(text, path).runtimes as Record<string, { path?: unknown }> | undefined;
    const p = runtimes?.[RUNTIME_NAME]?.path;
    if (typeof p !== 'string') return none;
    let executable = true;
    try {
      accessSync(p, fsc.X_OK);
    } catch {
      executable = false;
    }
    return { path, runtimePath: p, runtimeExecutable: executable, sameInstall: real(p) !== null && real(p) === real(expected) };
  } catch (e) {
    return { ...none, error: (e as Error).message };
  }
}

/** GET /info of the local engine (2 s), as `docker info` shows it. */
async function dockerInfo(): Promise<Facts['dockerd']> {
  const r = await engineGet('/info', 2000);
  if ('unreachable' in r) return r;
  try {
    const i = JSON.parse(r.body) as { ServerVersion?: string; Runtimes?: Record<string, unknown>; DefaultRuntime?: string };
    return { version: i.ServerVersion ?? '?', runtimes: Object.keys(i.Runtimes ?? {}), defaultRuntime: i.DefaultRuntime ?? 'runc' };
  } catch {
    return { unreachable: `the Docker API answered ${r.status} with no engine info` };
  }
}

/**
 * A test container through the gpumem runtime: `PROBE /etc/ld.so.preload /proc/self/maps` prints
 * what the preload names, then the probe's own maps: the interposer is loaded when they map it.
 * A statically linked probe (busybox's cat) maps no libc, and nothing can be preloaded into it.
 */
function interposer(image: string | undefined, probe: string): Facts['interposer'] {
  if (!image) return null;
  const lib = containerPaths().interposer;
  const r = spawnSync('docker', ['run', '--rm', '--pull', 'never', '--runtime', RUNTIME_NAME, '--annotation', 'gpumem.io/limit=64m', '--entrypoint', probe, image, '/etc/ld.so.preload', '/proc/self/maps'],
    { encoding: 'utf8', timeout: 60_000 });
  if (r.error) return { image, loaded: false, detail: `docker could not be run: ${r.error.message}` };
  if (r.status !== 0) {
    // docker's own line ("docker: Error response from daemon: ..."), not its "Run 'docker run --help'" after it
    const err = r.stderr.trim().split('\n');
    const why = err.find((l) => l.startsWith('docker: ')) ?? err.pop() ?? `exit ${r.status}`;
    return { image, loaded: false, detail: `the test container of ${image} did not run: ${why}` };
  }
  const lines = r.stdout.split('\n');
  const maps = lines.filter((l) => /^[0-9a-f]+-[0-9a-f]+ /.test(l));
  if (maps.some((l) => l.endsWith(` ${lib}`))) return { image, loaded: true, detail: '' };
  if (!maps.some((l) => /\/(libc[.-]|ld-linux)/.test(l))) {
    return { image, loaded: false, static: true, detail: `${probe} in ${image} is statically linked (no libc in its maps): nothing loads into it${lines.includes(lib) ? `; /etc/ld.so.preload names ${lib}` : ''}` };
  }
  return { image, loaded: false, detail: `${probe} in ${image} ran without ${lib} in its maps${lines.includes(lib) ? '' : ' (and /etc/ld.so.preload does not name it)'}` };
}

function nvml(): Facts['nvml'] {
  try {
    const inv = gpuInventory();
    return { driverVersion: inv.driverVersion, gpus: inv.gpus.filter((g) => !g.mig).map((g) => ({ uuid: g.uuid, totalBytes: g.totalBytes })) };
  } catch (e) {
    return { error: (e as Error).message.replace(/^gpumem: /, '') };
  }
}

function policy(): { facts: Facts['policy']; overcommit: Facts['overcommit'] } {
  const file = policyFile();
  try {
    return { facts: { file, present: existsSync(file) }, overcommit: loadPolicy(file).overcommit };
  } catch (e) {
    return { facts: { file, present: true, error: (e as Error).message }, overcommit: 'deny' };
  }
}

function stateRootFacts(): Facts['stateRoot'] {
  const path = stateRoot();
  try {
    const s = lstatSync(path);
    return { path, exists: true, directory: s.isDirectory(), symlink: s.isSymbolicLink(), uid: s.uid, mode: s.mode };
  } catch {
    return { path, exists: false, directory: false, symlink: false, uid: -1, mode: 0 };
  }
}

function ledger(): Facts['ledger'] {
  const per = new Map<string, { bytes: bigint; containers: Set<string> }>();
  for (const e of ledgerEntries()) {
    const g = per.get(e.uuid) ?? { bytes: 0n, containers: new Set<string>() };
    g.bytes += e.bytes;
    g.containers.add(e.container);
    per.set(e.uuid, g);
  }
  return [...per].map(([uuid, g]) => ({ uuid, bytes: g.bytes, containers: g.containers.size }));
}

function agent(): Promise<Facts['agent']> {
  const socket = agentSocket();
  let pid: number | null = null;
  try {
    pid = Number(readFileSync(agentPidfile(), 'utf8').trim()) || null;
  } catch {
    // no pid file: none started, or systemd's
  }
  return new Promise((done) => {
    const c = connect(socket);
    const timer = setTimeout(() => c.destroy(new Error('no answer in 1 s')), 1000);
    c.on('connect', () => {
      clearTimeout(timer);
      c.destroy();
      done({ socket, up: true, pid });
    });
    c.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      done({ socket, up: false, pid, why: e.code === 'ENOENT' ? 'no socket' : (e.code ?? e.message) });
    });
  });
}

/** Installed when its unit or its pid file is there; then asked for /metrics (2 s). */
function exporter(address: string | undefined): Promise<Facts['exporter']> {
  let unit: string | undefined;
  try {
    unit = readFileSync(EXPORTER_UNIT, 'utf8');
  } catch {
    unit = undefined;
  }
  const pidfile = join(stateRoot(), 'exporter.pid');
  if (address === undefined && unit === undefined && !existsSync(pidfile)) return Promise.resolve(null);
  const addr = address ?? /--listen (\S+)/.exec(unit ?? '')?.[1] ?? '127.0.0.1:9400';
  return new Promise((done) => {
    const req = get(`http://${addr}/metrics`, { timeout: 2000 }, (res) => {
      res.resume();
      done(res.statusCode === 200 ? { address: addr, up: true } : { address: addr, up: false, why: `HTTP ${res.statusCode}` });
    });
    req.on('timeout', () => req.destroy(new Error('no answer in 2 s')));
    req.on('error', (e: NodeJS.ErrnoException) => done({ address: addr, up: false, why: e.code ?? e.message }));
  });
}

export async function gatherFacts(o: Options): Promise<Facts> {
  const expected = expectedRuntime();
  const p = policy();
  const [dockerd, agentFacts, exporterFacts] = await Promise.all([dockerInfo(), agent(), exporter(o.exporter)]);
  return {
    daemonJson: daemonJson(o.daemonJson ?? recordedDaemonJson() ?? '/etc/docker/daemon.json', expected),
    expectedRuntime: expected,
    dockerd,
    interposer: interposer(o.image, o.probe ?? 'cat'),
    nvml: nvml(),
    policy: p.facts,
    overcommit: p.overcommit,
    stateRoot: stateRootFacts(),
    leftovers: limitedContainers().flatMap((id) => {
      const why = leftoverState(id);
      return why === null ? [] : [{ id, why }];
    }),
    ledger: ledger(),
    agent: agentFacts,
    exporter: exporterFacts,
  };
}
