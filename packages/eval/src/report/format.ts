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

const UNITS = ['B', 'KiB', 'MiB', 'GiB'] as const;

/**
 * Formats a byte count in binary units, B to GiB: whole bytes below 1 KiB, one decimal above;
 * past 1024 GiB the GiB count is written in scientific notation, so every size of a report reads
 * in the same four units.
 * @param b - Bytes.
 * @returns The text (`12.0 KiB`).
 * @example
 * ```ts
 * import { fmtBytes } from '@kv/eval';
 * fmtBytes(2048); // "2.0 KiB"
 * fmtBytes(5.87e21); // "5.47e+12 GiB"
 * ```
 */
export function fmtBytes(b: number): string {
  if (!Number.isFinite(b)) return fmt(b);
  let u = 0;
  let v = b;
  while (Math.abs(v) >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  if (u === 0) return `${Math.round(v)} B`;
  if (Math.abs(v) >= 1024) return `${v.toExponential(2)} ${UNITS[u]}`;
  return `${v.toFixed(1)} ${UNITS[u]}`;
}

/**
 * Formats a ratio as `0.988×` (three significant digits).
 * @param x - The ratio.
 * @returns The text.
 * @example
 * ```ts
 * import { fmtRatio } from '@kv/eval';
 * fmtRatio(0.98765); // "0.988×"
 * ```
 */
export function fmtRatio(x: number): string {
  if (!Number.isFinite(x) || x === 0) return `${fmt(x)}×`;
  return `${x >= 1e6 ? x.toExponential(2) : x.toPrecision(3)}×`;
}
