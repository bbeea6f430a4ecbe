/** Output the way docker prints it: an aligned table with upper-case headers fitted to a width, or JSON lines with --format json. */

export type Row = Record<string, string | number>;

/** A column; a bare string is one that is never cut or dropped. */
export interface Column {
  /** The row's key; shown upper-cased. */
  key: string;
  /** When the table is too wide: cut to this many characters, ending in "…" (names, messages). */
  min?: number;
  /** When cutting is not enough: dropped, the lowest first. */
  drop?: number;
}

const asColumn = (c: string | Column): Column => (typeof c === 'string' ? { key: c } : c);
const MARK = '…';

const cut = (v: string, w: number): string => (v.length <= w ? v : w <= 1 ? v.slice(0, w) : v.slice(0, w - 1) + MARK);

interface Layout {
  columns: Column[];
  widths: number[];
  gap: number;
}

function natural(columns: readonly Column[], cells: readonly Row[]): number[] {
  return columns.map((c) => Math.max(c.key.length, ...cells.map((r) => String(r[c.key] ?? '').length)));
}

const total = (widths: readonly number[], gap: number): number => widths.reduce((a, b) => a + b, 0) + gap * Math.max(0, widths.length - 1);

/**
 * The columns and widths that fit `width`: docker's three spaces between columns where all fits,
 * else two; then the cuttable columns cut, widest first, down to their minimum; then columns
 * dropped by their `drop` rank. Headers are never cut. What still does not fit is printed wide.
 */
export function fitColumns(spec: readonly (string | Column)[], rows: readonly Row[], width = Infinity): Layout {
  let columns = spec.map(asColumn);
  let widths = natural(columns, rows);
  if (total(widths, 3) <= width) return { columns, widths, gap: 3 };
  const gap = 2;
  for (;;) {
    let over = total(widths, gap) - width;
    // Cut what can be cut, each down to its minimum (never below its header).
    for (const [i, c] of columns.entries()) {
      if (over <= 0 || c.min === undefined) continue;
      const floor = Math.max(c.min, c.key.length);
      const take = Math.min(over, Math.max(0, (widths[i] as number) - floor));
      widths[i] = (widths[i] as number) - take;
      over -= take;
    }
    if (over <= 0) return { columns, widths, gap };
    const droppable = columns.filter((c) => c.drop !== undefined);
    if (droppable.length === 0) return { columns, widths, gap };
    const lowest = droppable.reduce((a, b) => ((b.drop as number) < (a.drop as number) ? b : a));
    columns = columns.filter((c) => c !== lowest);
    widths = natural(columns, rows);
  }
}

/** The table as text: the header line and a line a row, each at most `width` wide where the columns allow. */
export function formatTable(spec: readonly (string | Column)[], rows: readonly Row[], width = Infinity): string {
  return renderTable(fitColumns(spec, rows, width), rows);
}

export function renderTable(layout: Layout, rows: readonly Row[]): string {
  const { columns, widths, gap } = layout;
  const line = (cells: readonly string[]): string =>
    cells
      .map((v, i) => {
        const w = widths[i] as number;
        return i === cells.length - 1 ? cut(v, w) : cut(v, w).padEnd(w + gap);
      })
      .join('')
      .trimEnd();
  const header = line(columns.map((c) => c.key.toUpperCase()));
  return [header, ...rows.map((r) => line(columns.map((c) => String(r[c.key] ?? ''))))].join('\n') + '\n';
}

export const formatJsonLines = (rows: readonly unknown[]): string => rows.map((r) => JSON.stringify(r) + '\n').join('');

export { formatBytes } from '../bytes.js';
