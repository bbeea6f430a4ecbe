/** Output the way docker prints it: an aligned table with upper-case headers, or JSON lines with --format json. */

export type Row = Record<string, string | number>;

export function formatTable(headers: readonly string[], rows: readonly Row[]): string {
  const cells = rows.map((r) => headers.map((h) => String(r[h] ?? '')));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] as string).length)));
  const line = (c: readonly string[]): string =>
    c.map((v, i) => (i === c.length - 1 ? v : v.padEnd((widths[i] as number) + 3))).join('').trimEnd();
  return [line(headers.map((h) => h.toUpperCase())), ...cells.map(line)].join('\n') + '\n';
}

export const formatJsonLines = (rows: readonly unknown[]): string => rows.map((r) => JSON.stringify(r) + '\n').join('');

export { formatBytes } from '../bytes.js';
