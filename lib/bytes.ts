/** Bytes as docker prints sizes: 64MiB, 8GiB, 1.5GiB (messages, tables and logs alike). */
export function formatBytes(bytes: number | bigint): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = Number(bytes);
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${Number.isInteger(v) ? v : v.toFixed(2).replace(/\.?0+$/, '')}${units[u]}`;
}
