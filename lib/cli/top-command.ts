/**
 * `gpumem top`: gpumem ps's rows refreshed every --interval seconds, like docker stats: on a
 * terminal in its alternate screen, fitted to its width and redrawn when it is resized, until q
 * or Ctrl-C gives the terminal back as it was; elsewhere (a pipe, a file) one table an interval,
 * or only one with --no-stream.
 */
import type { Argv } from 'yargs';
import { quote } from '../ffi/native.js';
import { outputWidth, psTable } from './ps-command.js';
import { psRows, type PsRow } from '../truth/rows.js';

// The terminal sequences every xterm-like terminal (and tmux, and the Linux console) knows.
const ALT_SCREEN_ON = '\x1b[?1049h';
const ALT_SCREEN_OFF = '\x1b[?1049l';
const CURSOR_HIDE = '\x1b[?25l';
const CURSOR_SHOW = '\x1b[?25h';
const HOME = '\x1b[H';
const CLEAR_LINE_END = '\x1b[K';
const CLEAR_BELOW = '\x1b[J';
const CTRL_C = '\x03';

/** The interval in milliseconds, from seconds as given; throws a one-line error naming what is accepted. */
export function intervalMs(value: unknown): number {
  const s = typeof value === 'number' ? value : Number(String(value));
  if (!Number.isFinite(s) || s < 0.1 || s > 3600) {
    throw new Error(`gpumem: --interval ${quote(String(value))} is not a number of seconds from 0.1 to 3600, e.g. 1 or 0.5`);
  }
  return Math.round(s * 1000);
}

const clock = (d: Date): string => d.toTimeString().slice(0, 8);

/** One screen: a title line, then the table, each line cut to the width and the whole to the height. */
export function frame(rows: readonly PsRow[], at: Date, size: { columns: number; rows: number }, intervalText: string): string {
  const containers = new Set(rows.map((r) => r.container)).size;
  const title = `gpumem top - ${clock(at)} - ${containers} container${containers === 1 ? '' : 's'} - every ${intervalText} - q quits`;
  const lines = [title, '', ...psTable(rows, { width: size.columns }).trimEnd().split('\n')];
  return (
    HOME +
    lines
      .slice(0, Math.max(1, size.rows))
      .map((l) => l.slice(0, size.columns) + CLEAR_LINE_END)
      .join('\r\n') +
    CLEAR_BELOW
  );
}

/** Live on a terminal until q or Ctrl-C; the terminal is restored however it ends. */
async function live(every: number, intervalText: string): Promise<void> {
  const out = process.stdout;
  const input = process.stdin;
  let rows: PsRow[] = [];
  let at = new Date();
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));

  const draw = (): void => {
    if (!stopped) out.write(frame(rows, at, { columns: out.columns || 80, rows: out.rows || 24 }, intervalText));
  };
  const restore = (): void => {
    if (stopped) return;
    stopped = true;
    if (timer) clearTimeout(timer);
    out.off('resize', draw);
    input.off('data', onKey);
    if (input.isTTY) input.setRawMode(false);
    input.pause();
    out.write(CURSOR_SHOW + ALT_SCREEN_OFF);
    done();
  };
  const onKey = (key: Buffer): void => {
    const k = key.toString('utf8');
    if (k === 'q' || k === 'Q' || k === CTRL_C) restore();
  };
  const onSignal = (): void => restore();
  const tick = async (): Promise<void> => {
    try {
      rows = await psRows(warned);
      at = new Date();
      draw();
    } catch (e) {
      restore();
      throw e;
    }
    if (!stopped) timer = setTimeout(() => void tick().catch(fail), every);
  };
  let failure: unknown;
  const fail = (e: unknown): void => {
    failure = e;
  };
  const warned = new Set<string>();

  out.write(ALT_SCREEN_ON + CURSOR_HIDE + HOME + CLEAR_BELOW);
  if (input.isTTY) input.setRawMode(true);
  input.on('data', onKey);
  input.resume();
  out.on('resize', draw);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.once('SIGHUP', onSignal);
  try {
    await tick();
  } catch (e) {
    fail(e);
  }
  await finished;
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  process.off('SIGHUP', onSignal);
  if (failure) throw failure;
}

/** Not a terminal: a table an interval (docker stats does the same), or one with --no-stream. */
async function snapshots(every: number, stream: boolean): Promise<void> {
  const warned = new Set<string>();
  for (let first = true; ; first = false) {
    const rows = await psRows(warned);
    process.stdout.write((first ? '' : '\n') + psTable(rows, { width: outputWidth() }));
    if (!stream) return;
    await new Promise((r) => setTimeout(r, every));
  }
}

export function topCommand(y: Argv): Argv {
  return y.command(
    'top',
    "gpumem ps's rows refreshed live, like docker stats (q or Ctrl-C quits)",
    (c) =>
      c
        .option('interval', { type: 'string', default: '1', describe: 'seconds between refreshes (0.1 to 3600)' })
        .option('stream', { type: 'boolean', default: true, describe: 'refresh until quit; --no-stream: print one table and exit' })
        .example('gpumem top', 'live, in the terminal, every second')
        .example('gpumem top --interval 5', 'every 5 seconds')
        .example('gpumem top --no-stream', 'one table, then exit (as docker stats --no-stream)')
        .epilogue('Exit status: 0 when quit (q, Ctrl-C, SIGTERM) or after --no-stream; 1 on bad options (one line on stderr).'),
    async (a) => {
      const every = intervalMs(a.interval);
      const text = `${every / 1000}s`;
      if (a.stream !== false && process.stdout.isTTY && process.stdin.isTTY) await live(every, text);
      else await snapshots(every, a.stream !== false);
    },
  );
}
