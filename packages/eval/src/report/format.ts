/**
 * Formats a number with 3 significant digits (`–` for NaN, `∞` for Infinity).
 * @param x - The number.
 * @returns The text.
 * @example
 * ```ts
 * import { fmt } from '@kv/eval';
 * fmt(0.012345); // "0.0123"
 * ```
 */
export function fmt(x: number): string {
  if (Number.isNaN(x)) return '–';
  if (!Number.isFinite(x)) return x > 0 ? '∞' : '-∞';
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (Number.isInteger(x) && a < 1e6) return String(x);
  if (a >= 1e6 || a < 1e-3) return x.toExponential(2);
  return String(Number(x.toPrecision(3)));
}

/**
 * Formats a byte count with binary units.
 * @param b - Bytes.
 * @returns The text (`12.0 KiB`).
 * @example
 * ```ts
 * import { fmtBytes } from '@kv/eval';
 * fmtBytes(2048); // "2.0 KiB"
 * ```
 */
export function fmtBytes(b: number): string {
  if (!Number.isFinite(b)) return fmt(b);
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let u = 0;
  let v = b;
  while (Math.abs(v) >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  if (u === units.length - 1 && Math.abs(v) >= 1024) return `${b.toExponential(2)} B`;
  return u === 0 ? `${Number(v.toPrecision(3))} B` : `${v.toFixed(1)} ${units[u]}`;
}
