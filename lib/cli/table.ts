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

/** Bytes as docker prints sizes: 64MiB, 8GiB, 1.5GiB. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${Number.isInteger(v) ? v : v.toFixed(2).replace(/\.?0+$/, '')}${units[u]}`;
}
