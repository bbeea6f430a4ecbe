/**
 * gpumem doctor's judgments (pure): from what was found on the host, each check's status, what
 * it saw, and for a failing or doubtful one the command that fixes it.
 */

export type Status = 'ok' | 'warn' | 'fail' | 'skip';

export interface Check {
  check: string;
  status: Status;
  detail: string;
  fix: string | null;
}

/** What facts.ts found; every field says either what is there or why it could not be read. */
export interface Facts {
  /**
   * daemon.json as read: its path, the gpumem runtime's path in it (null: not registered), whether
   * that is an executable and this install's own (the same file once links are resolved), or a parse error.
   */
  daemonJson: { path: string; runtimePath: string | null; runtimeExecutable: boolean; sameInstall: boolean; error?: string };
  /** This install's runtime. */
  expectedRuntime: string;
  /** dockerd's GET /info, or why it did not answer. */
  dockerd: { version: string; runtimes: string[]; defaultRuntime: string } | { unreachable: string };
  /** The interposer test container: null when no image was given. */
  interposer: { image: string; loaded: boolean; static?: boolean; detail: string } | null;
  /** NVML's inventory, or its error. */
  nvml: { driverVersion: string; gpus: { uuid: string; totalBytes: number }[] } | { error: string };
  /** The policy file and its one-line error, if any. */
  policy: { file: string; present: boolean; error?: string };
  /** The state root as lstat sees it. */
  stateRoot: { path: string; exists: boolean; directory: boolean; symlink: boolean; uid: number; mode: number };
  /** Limited containers whose state is a leftover, with why. */
  leftovers: { id: string; why: string }[];
  /** Admitted budgets: per GPU UUID, the bytes and the containers. */
  ledger: { uuid: string; bytes: bigint; containers: number }[];
  /** How the policy judges over-commit. */
  overcommit: 'deny' | 'allow';
  /** The agent's socket answered (and its pid), or why not. */
  agent: { socket: string; up: boolean; pid: number | null; why?: string };
  /** The exporter: null when not installed (no unit, no pid file). */
  exporter: { address: string; up: boolean; why?: string } | null;
}

const MiB = 2 ** 20;
const GiB = 2 ** 30;
const size = (b: number | bigint): string => {
  const n = Number(b);
  return n >= GiB ? `${+(n / GiB).toFixed(1)}GiB` : `${Math.round(n / MiB)}MiB`;
};
const ok = (check: string, detail: string): Check => ({ check, status: 'ok', detail, fix: null });
const bad = (check: string, status: 'warn' | 'fail', detail: string, fix: string): Check => ({ check, status, detail, fix });

function daemonJson(f: Facts): Check {
  const d = f.daemonJson;
  const name = 'daemon.json';
  if (d.error) return bad(name, 'fail', d.error, `correct ${d.path} by hand (install.sh never rewrites a file it cannot parse), then sudo ./install.sh`);
  if (d.runtimePath === null) return bad(name, 'fail', `${d.path} registers no runtime "gpumem"`, 'sudo ./install.sh');
  if (!d.runtimeExecutable) return bad(name, 'fail', `runtime gpumem -> ${d.runtimePath}, which is not an executable file`, 'sudo ./install.sh');
  if (!d.sameInstall) return bad(name, 'warn', `runtime gpumem -> ${d.runtimePath}, another install than this one (${f.expectedRuntime})`, "run that install's gpumem doctor, or sudo ./install.sh from this one");
  return ok(name, `runtime gpumem -> ${d.runtimePath}`);
}

function dockerd(f: Facts): Check[] {
  const d = f.dockerd;
  if ('unreachable' in d) {
    const fix = 'start dockerd (systemctl start docker); gpumem registers in daemon.json for its next start';
    return [bad('dockerd', 'warn', `not answering: ${d.unreachable}`, fix), { check: 'default runtime', status: 'skip', detail: 'dockerd not answering', fix: null }];
  }
  const major = Number(d.version.split('.')[0]);
  const known = d.runtimes.includes('gpumem');
  const engine: Check = !known
    ? bad('dockerd', 'fail', `Docker Engine ${d.version} does not know runtime gpumem (runtimes: ${d.runtimes.join(', ')})`, 'sudo kill -HUP $(cat /var/run/docker.pid)   # dockerd reads daemon.json again')
    : major < 24
      ? bad('dockerd', 'warn', `Docker Engine ${d.version} knows runtime gpumem but cannot pass --annotation (needs >= 24)`, 'use -e GPUMEM_LIMIT=8g on this engine, or upgrade Docker')
      : ok('dockerd', `Docker Engine ${d.version} knows runtime gpumem`);
  const dflt = d.defaultRuntime === 'gpumem'
    ? ok('default runtime', 'gpumem, so every container passes through it (GPU ones get the policy default)')
    : ok('default runtime', `${d.defaultRuntime}: containers need --runtime gpumem (sudo ./install.sh --default makes it the default)`);
  return [engine, dflt];
}

function interposer(f: Facts): Check {
  const i = f.interposer;
  if (i === null) return { check: 'interposer', status: 'skip', detail: 'no test container: give --image IMAGE (any local glibc image with cat)', fix: null };
  if (i.loaded) return ok('interposer', `loaded in a test container of ${i.image} (limit 64MiB)`);
  if (i.static) return bad('interposer', 'warn', i.detail, 'give --probe PROGRAM, a dynamically linked program in the image that prints files (or an image whose cat is one)');
  return bad('interposer', 'fail', i.detail, 'see the detail; a musl image cannot load it (use a glibc image); sudo ./install.sh repairs the install');
}

function nvml(f: Facts): Check[] {
  const n = f.nvml;
  if ('error' in n) {
    return [
      bad('NVML', 'warn', `${n.error}: GPUs told by index only, percents refused, admission not judged`, 'install the NVIDIA driver (libnvidia-ml.so.1)'),
      { check: 'driver-taken memory', status: 'skip', detail: 'no NVML', fix: null },
    ];
  }
  const major = Number(n.driverVersion.split('.')[0]);
  const gpus = n.gpus.map((g) => size(g.totalBytes)).join(', ');
  return [
    ok('NVML', `driver ${n.driverVersion}, ${n.gpus.length} GPU${n.gpus.length === 1 ? '' : 's'}${gpus ? ` (${gpus})` : ''}`),
    major >= 565
      ? ok('driver-taken memory', `seen: driver ${major} reports each container process's memory (code, local memory, heap charged)`)
      : bad('driver-taken memory', 'warn', `not seen: driver ${n.driverVersion} gives no per-process memory inside containers (before 565)`, 'upgrade the NVIDIA driver to 565 or later'),
  ];
}

function policy(f: Facts): Check {
  const p = f.policy;
  if (p.error) return bad('policy', 'fail', p.error, `correct ${p.file} (docs/policy.md lists every field); GPU containers are refused until then`);
  return ok('policy', p.present ? `${p.file} is valid` : `${p.file} absent: no default or maximum limit`);
}

function stateRoot(f: Facts): Check {
  const s = f.stateRoot;
  const name = 'state directory';
  if (!s.exists) return bad(name, 'warn', `${s.path} does not exist yet (made at the first limited start)`, 'sudo ./install.sh (it makes it)');
  if (s.symlink) return bad(name, 'fail', `${s.path} is a symbolic link: gpumem keeps host state only in a real directory`, `sudo rm ${s.path} && sudo ./install.sh`);
  if (!s.directory) return bad(name, 'fail', `${s.path} is not a directory`, `sudo rm ${s.path} && sudo ./install.sh`);
  if (s.uid !== 0) return bad(name, 'fail', `${s.path} belongs to uid ${s.uid}, not root: its owner could change every container's budget`, `sudo chown root: ${s.path}`);
  if (s.mode & 0o022) return bad(name, 'fail', `${s.path} is writable by group or others (mode ${(s.mode & 0o777).toString(8)})`, `sudo chmod go-w ${s.path}`);
  if (f.leftovers.length) {
    const ids = f.leftovers.map((l) => l.id.slice(0, 12)).join(', ');
    return bad(name, 'warn', `${f.leftovers.length} leftover container state (${ids}): ${f.leftovers[0]!.why}`, 'nothing to do: the next limited start removes it (their budgets no longer count)');
  }
  return ok(name, `${s.path}: root's, mode ${(s.mode & 0o777).toString(8)}`);
}

function ledger(f: Facts): Check {
  const name = 'ledger';
  if (f.ledger.length === 0) return ok(name, 'no budgets admitted');
  const sizes = 'error' in f.nvml ? new Map<string, number>() : new Map(f.nvml.gpus.map((g) => [g.uuid, g.totalBytes]));
  const over = f.ledger.filter((l) => sizes.has(l.uuid) && Number(l.bytes) > (sizes.get(l.uuid) as number));
  const unknown = f.ledger.filter((l) => !sizes.has(l.uuid) && !('error' in f.nvml));
  const summary = f.ledger.map((l) => `${l.uuid.slice(0, 12)} ${size(l.bytes)} (${l.containers})`).join(', ');
  if (unknown.length) return bad(name, 'warn', `budgets on GPUs the host does not list: ${unknown.map((l) => l.uuid).join(', ')}`, 'they go when their containers stop (docker rm); gpumem ps shows them');
  if (over.length && f.overcommit === 'deny') return bad(name, 'fail', `more admitted than the GPU holds: ${over.map((l) => `${l.uuid.slice(0, 12)} ${size(l.bytes)} of ${size(sizes.get(l.uuid)!)}`).join(', ')}`, 'gpumem update CONTAINER --limit SIZE (gpumem ps lists them), or stop one');
  return ok(name, `admitted per GPU (containers): ${summary}`);
}

function agent(f: Facts): Check {
  const a = f.agent;
  if (a.up) return ok('agent', `listening on ${a.socket}${a.pid ? ` (pid ${a.pid})` : ''}`);
  return bad('agent', 'warn', `not answering on ${a.socket}${a.why ? ` (${a.why})` : ''}: starts are decided in-process, slower`, 'sudo systemctl restart gpumem-agent, or sudo ./install.sh');
}

function exporter(f: Facts): Check {
  const e = f.exporter;
  if (e === null) return { check: 'exporter', status: 'skip', detail: 'not installed (install.sh --no-exporter)', fix: null };
  if (e.up) return ok('exporter', `serving http://${e.address}/metrics`);
  return bad('exporter', 'warn', `not answering on ${e.address}${e.why ? ` (${e.why})` : ''}`, 'sudo systemctl restart gpumem-exporter, or sudo ./install.sh (--exporter-listen another port if it is taken)');
}

/** Every check, in the order an operator reads them. */
export function judge(f: Facts): Check[] {
  return [daemonJson(f), ...dockerd(f), interposer(f), ...nvml(f), policy(f), stateRoot(f), ledger(f), agent(f), exporter(f)];
}

/** 1 when a check failed: what a script can rely on (warnings alone are 0). */
export const exitStatus = (checks: readonly Check[]): number => (checks.some((c) => c.status === 'fail') ? 1 : 0);
