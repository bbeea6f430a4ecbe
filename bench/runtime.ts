/** Container start to exit through plain runc vs gpumem-runtime (a container without a limit, and one with). */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { appRoot } from '../lib/paths.js';
import { paired, type Paired, type Progress } from './paired.js';

const WORK = '/tmp/gpumem-bench';

/** Why the runtime benchmark cannot run here, or undefined. */
export function runtimeBenchUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (runc)';
  if (spawnSync('runc', ['--version']).status !== 0) return 'needs runc (apt-get install runc)';
  if (!existsSync('/bin/busybox')) return 'needs a static busybox (apt-get install busybox-static)';
  return undefined;
}

/** A busybox bundle whose process is `true`; `annotations` decide whether gpumem limits it. */
function bundle(name: string, annotations: Record<string, string>): string {
  const dir = join(WORK, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'rootfs', 'bin'), { recursive: true });
  copyFileSync('/bin/busybox', join(dir, 'rootfs', 'bin', 'busybox'));
  for (const a of ['sh', 'true']) symlinkSync('busybox', join(dir, 'rootfs', 'bin', a));
  execFileSync('runc', ['spec'], { cwd: dir });
  const spec = JSON.parse(execFileSync('cat', [join(dir, 'config.json')], { encoding: 'utf8' }));
  spec.process.terminal = false;
  spec.process.args = ['/bin/true'];
  spec.root.readonly = false;
  spec.annotations = annotations;
  writeFileSync(join(dir, 'config.json'), JSON.stringify(spec));
  return dir;
}

/** Installs gpumem under a scratch prefix, registered in a scratch daemon.json (the host's is not touched). */
export function installScratch(): string {
  const prefix = join(WORK, 'prefix');
  execFileSync(join(appRoot(), 'install.sh'), ['--prefix', prefix, '--daemon-json', join(WORK, 'daemon.json'), '--dockerd-pidfile', '/nonexistent'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return join(prefix, 'bin', 'gpumem-runtime');
}

let seq = 0;
/** create, start, wait for exit, delete: what containerd asks of the runtime for one `docker run`. */
function lifecycleMs(runtime: string, dir: string, spec: string): number {
  const id = `gpumem-bench-${process.pid}-${seq++}`;
  // A fresh spec for every container, as containerd writes one: gpumem's create edits it (its
  // mounts in a reused spec would be refused as volumes over its own places).
  writeFileSync(join(dir, 'config.json'), spec);
  const root = join(WORK, 'runc-root');
  // The container inherits create's stdio: give it none, or reading create's output waits for the container.
  const run = (...args: string[]): string =>
    execFileSync(runtime, ['--root', root, ...args], { cwd: dir, encoding: 'utf8', stdio: ['ignore', args[0] === 'create' ? 'ignore' : 'pipe', 'inherit'] });
  const t0 = process.hrtime.bigint();
  run('create', '--bundle', dir, id);
  run('start', id);
  while ((JSON.parse(run('state', id)) as { status: string }).status !== 'stopped');
  run('delete', id);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

export function benchRuntime(runtime: string, limited: boolean, rounds: number, progress: Progress): Paired {
  mkdirSync(WORK, { recursive: true });
  const plain = bundle('plain', {});
  const candidate = limited ? bundle('limited', { 'gpumem.io/limit': '1g' }) : plain;
  const specOf = (dir: string): string => readFileSync(join(dir, 'config.json'), 'utf8');
  const [plainSpec, candidateSpec] = [specOf(plain), specOf(candidate)];
  return paired(rounds, () => lifecycleMs('runc', plain, plainSpec), () => lifecycleMs(runtime, candidate, candidateSpec), progress);
}
