/**
 * `docker run` start to exit through a real dockerd, plain runc against gpumem-runtime: a container
 * with a limit, a `--gpus` container limited by the host policy's default, a container without GPUs
 * (one exec), an image's NVIDIA_VISIBLE_DEVICES without --gpus (decided, passed), and a limit with
 * the agent stopped (the in-process fallback). Uses the private engine of the end-to-end tests
 * (test/e2e/engine), never the host's; the agent sees three fake GPUs through the fake NVML.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appRoot } from '../lib/paths.js';
import { agentPidfile } from '../lib/layout.js';
import { paired, type Paired, type Progress } from './paired.js';

// The e2e harness's private engine (test/e2e/lib/paths.ts has the same, for the tests).
const RUN = process.env.GPUMEM_TEST_RUN ?? '/run/gpumem-test';
const ENV = { ...process.env, DOCKER_HOST: `unix://${RUN}/docker.sock` };
const engineScript = (name: string): string => join(appRoot(), 'test', 'e2e', 'engine', name);
const IMAGE = 'gpumem-test';

export function engineBenchUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (a private dockerd)';
  if (!existsSync(join(appRoot(), '.cache', 'engine', 'root', 'usr', 'sbin', 'dockerd'))) {
    return 'the private engine is not installed (sudo test/e2e/engine/install-engine.sh)';
  }
  return undefined;
}

function sh(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { env: ENV, stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status})`);
}

function dockerRunMs(args: string[]): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('docker', ['run', '--rm', '--network', 'none', ...args, IMAGE, 'true'], { env: ENV, encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`docker run ${args.join(' ')} failed: ${r.stderr.trim()}`);
  return ms;
}

export interface EngineCase {
  name: string;
  baseline: string[];
  candidate: string[];
  /** Stop the agent first: the start decides in-process. */
  noAgent?: boolean;
}

export const engineCases: EngineCase[] = [
  { name: 'docker run, gpumem.io/limit=64m', baseline: ['--runtime', 'runc'], candidate: ['--runtime', 'gpumem', '--annotation', 'gpumem.io/limit=64m'] },
  { name: "docker run --gpus all, no key: the policy's defaultLimit 64m", baseline: ['--runtime', 'runc', '--gpus', 'all'], candidate: ['--runtime', 'gpumem', '--gpus', 'all'] },
  { name: 'docker run, no GPU, no limit', baseline: ['--runtime', 'runc'], candidate: ['--runtime', 'gpumem'] },
  {
    name: "docker run, an image's NVIDIA_VISIBLE_DEVICES=all without --gpus (decided: no GPU)",
    baseline: ['--runtime', 'runc', '-e', 'NVIDIA_VISIBLE_DEVICES=all'],
    candidate: ['--runtime', 'gpumem', '-e', 'NVIDIA_VISIBLE_DEVICES=all'],
  },
  { name: 'docker run, gpumem.io/limit=64m, agent stopped', baseline: ['--runtime', 'runc'], candidate: ['--runtime', 'gpumem', '--annotation', 'gpumem.io/limit=64m'], noAgent: true },
];

/** Starts the private engine, installs gpumem under a scratch prefix for it, runs the cases, and undoes it all. */
export function benchEngine(rounds: number, progress: (name: string) => Progress, say: (s: string) => void): { name: string; result: Paired }[] {
  const prefix = mkdtempSync(join(tmpdir(), 'gpumem-bench-engine-'));
  // The agent install.sh starts sees three fake GPUs and a policy with a default budget.
  const policy = join(prefix, 'policy.json');
  writeFileSync(policy, JSON.stringify({ defaultLimit: '64m' }));
  const agentEnv = { ...ENV, LD_LIBRARY_PATH: join(appRoot(), 'native', 'build', 'fake'), FAKE_NVML_DEVICE_MEMS: '1g,2g,4g', GPUMEM_POLICY: policy };
  const install = [join(appRoot(), 'install.sh'), '--prefix', prefix, '--daemon-json', `${RUN}/daemon.json`, '--dockerd-pidfile', `${RUN}/docker.pid`, '--containers-conf-d', join(prefix, 'containers.conf.d')];
  say('starting the private Docker engine and installing gpumem for it ...');
  sh('bash', [engineScript('engine.sh'), 'start']);
  try {
    sh('bash', [engineScript('build-image.sh')]);
    execFileSync(install[0] as string, install.slice(1), { env: agentEnv, stdio: ['ignore', 'ignore', 'inherit'] });
    const out: { name: string; result: Paired }[] = [];
    for (const c of engineCases) {
      if (c.noAgent) {
        const pid = Number(readFileSync(agentPidfile(), 'utf8'));
        process.kill(pid, 'SIGTERM');
      }
      dockerRunMs(c.baseline); // warm: the first start after an install pays for caches
      dockerRunMs(c.candidate);
      out.push({ name: c.name, result: paired(rounds, () => dockerRunMs(c.baseline), () => dockerRunMs(c.candidate), progress(c.name)) });
    }
    return out;
  } finally {
    spawnSync(install[0] as string, [...install.slice(1), '--uninstall'], { env: ENV, stdio: 'ignore' });
    rmSync(prefix, { recursive: true, force: true });
    rmSync(join(agentPidfile(), '..', 'inventory.json'), { force: true }); // the fake GPUs are not this host's
    spawnSync('bash', [engineScript('engine.sh'), 'stop'], { env: ENV, stdio: 'ignore' });
  }
}
