/** Reads runc's command line as containerd writes it (the shim's argv): global flags, a subcommand, its flags, the container id. */

export interface RuntimeArgs {
  subcommand?: string;
  /** `--root DIR`: where the lower runtime keeps its containers' state (one directory per id). */
  root?: string;
  /** `--log FILE`: where runc (and so gpumem) writes JSON log lines containerd shows on failure. */
  log?: string;
  bundle: string;
  containerId?: string;
  /** `runc exec --process FILE`: the process (OCI process JSON) to start in the container. */
  process?: string;
}

// runc's global flags that take a value; the rest are booleans.
const GLOBAL_WITH_VALUE = new Set(['--root', '--log', '--log-format', '--criu', '--rootless']);
// `runc create` and `runc exec` flags that take a value.
const WITH_VALUE = {
  create: new Set(['--bundle', '-b', '--console-socket', '--pid-file', '--preserve-fds']),
  exec: new Set(['--console-socket', '--pid-file', '--process', '-p', '--cwd', '--env', '-e', '--user', '-u', '--additional-gids', '-g',
    '--process-label', '--apparmor', '--cap', '-c', '--preserve-fds', '--cgroup']),
};

export function parseRuntimeArgs(argv: readonly string[], cwd: string): RuntimeArgs {
  const out: RuntimeArgs = { bundle: cwd };
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i] as string;
    if (!a.startsWith('-')) break;
    const [flag, inline] = a.split(/=(.*)/s, 2) as [string, string | undefined];
    const value = inline ?? (GLOBAL_WITH_VALUE.has(flag) ? argv[++i] : undefined);
    if (flag === '--log' && value !== undefined) out.log = value;
    if (flag === '--root' && value !== undefined) out.root = value;
  }
  out.subcommand = argv[i++];
  const withValue = out.subcommand === 'exec' ? WITH_VALUE.exec : WITH_VALUE.create;
  for (; i < argv.length; i++) {
    const a = argv[i] as string;
    if (!a.startsWith('-')) {
      out.containerId = a;
      if (out.subcommand === 'exec') break; // what follows is the command to run
      continue;
    }
    const [flag, inline] = a.split(/=(.*)/s, 2) as [string, string | undefined];
    const value = inline ?? (withValue.has(flag) ? argv[++i] : undefined);
    if ((flag === '--bundle' || flag === '-b') && value !== undefined) out.bundle = value;
    if ((flag === '--process' || flag === '-p') && value !== undefined) out.process = value;
  }
  return out;
}
