/** Reads runc's command line as containerd writes it (the shim's argv): global flags, a subcommand, its flags, the container id. */

export interface RuntimeArgs {
  subcommand?: string;
  /** `--log FILE`: where runc (and so gpumem) writes JSON log lines containerd shows on failure. */
  log?: string;
  bundle: string;
  containerId?: string;
}

// runc's global flags that take a value; the rest are booleans.
const GLOBAL_WITH_VALUE = new Set(['--root', '--log', '--log-format', '--criu', '--rootless']);
// `runc create` flags that take a value.
const CREATE_WITH_VALUE = new Set(['--bundle', '-b', '--console-socket', '--pid-file', '--preserve-fds']);

export function parseRuntimeArgs(argv: readonly string[], cwd: string): RuntimeArgs {
  const out: RuntimeArgs = { bundle: cwd };
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i] as string;
    if (!a.startsWith('-')) break;
    const [flag, inline] = a.split(/=(.*)/s, 2) as [string, string | undefined];
    const value = inline ?? (GLOBAL_WITH_VALUE.has(flag) ? argv[++i] : undefined);
    if (flag === '--log' && value !== undefined) out.log = value;
  }
  out.subcommand = argv[i++];
  for (; i < argv.length; i++) {
    const a = argv[i] as string;
    if (!a.startsWith('-')) {
      out.containerId = a;
      continue;
    }
    const [flag, inline] = a.split(/=(.*)/s, 2) as [string, string | undefined];
    const value = inline ?? (CREATE_WITH_VALUE.has(flag) ? argv[++i] : undefined);
    if ((flag === '--bundle' || flag === '-b') && value !== undefined) out.bundle = value;
  }
  return out;
}
