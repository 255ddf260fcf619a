/** Bytes with a binary unit: 512 B, 3.00 KiB, 2.45 MiB, 12.63 GiB. */
export function fmtBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0, x = bytes;
  while (Math.abs(x) >= 1024 && i < units.length - 1) {
    x /= 1024;
    i++;
  }
  return i === 0 ? `${x} B` : `${x.toFixed(2)} ${units[i]}`;
}
