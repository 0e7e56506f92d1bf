import type { FloatArray } from './types.js';

/**
 * Dot product of two strided vectors, accumulated in Float64 (JS arithmetic is double precision,
 * so Float32 storage loses nothing in the sum).
 *
 * @param n - Number of elements.
 * @param x - First vector storage.
 * @param strideX - Step between elements of `x`.
 * @param offsetX - Index of the first element of `x`.
 * @param y - Second vector storage.
 * @param strideY - Step between elements of `y`.
 * @param offsetY - Index of the first element of `y`.
 * @returns Σ x[i]·y[i].
 * @example
 * ```ts
 * import { dot } from '@kv/core';
 * dot(3, new Float32Array([1, 2, 3]), 1, 0, new Float32Array([4, 5, 6]), 1, 0); // 32
 * ```
 */
export function dot(
  n: number,
  x: FloatArray,
  strideX: number,
  offsetX: number,
  y: FloatArray,
  strideY: number,
  offsetY: number,
): number {
  if (strideX === 1 && strideY === 1) return dotUnit(n, x, offsetX, y, offsetY);
  let acc = 0;
  let ix = offsetX;
  let iy = offsetY;
  for (let i = 0; i < n; i++) {
    acc += x[ix]! * y[iy]!;
    ix += strideX;
    iy += strideY;
  }
  return acc;
}

/**
 * Unit-stride dot product with four independent accumulators (breaks the add dependency chain,
 * which is what limits a naive loop).
 *
 * @param n - Number of elements.
 * @param x - First vector storage.
 * @param offsetX - Index of the first element of `x`.
 * @param y - Second vector storage.
 * @param offsetY - Index of the first element of `y`.
 * @returns Σ x[offsetX+i]·y[offsetY+i].
 * @example
 * ```ts
 * import { dotUnit } from '@kv/core';
 * dotUnit(2, new Float32Array([0, 1, 2]), 1, new Float32Array([3, 4]), 0); // 11
 * ```
 */
export function dotUnit(n: number, x: FloatArray, offsetX: number, y: FloatArray, offsetY: number): number {
  let a0 = 0;
  let a1 = 0;
  let a2 = 0;
  let a3 = 0;
  const m = n - (n % 4);
  let i = 0;
  for (; i < m; i += 4) {
    a0 += x[offsetX + i]! * y[offsetY + i]!;
    a1 += x[offsetX + i + 1]! * y[offsetY + i + 1]!;
    a2 += x[offsetX + i + 2]! * y[offsetY + i + 2]!;
    a3 += x[offsetX + i + 3]! * y[offsetY + i + 3]!;
  }
  for (; i < n; i++) a0 += x[offsetX + i]! * y[offsetY + i]!;
  return a0 + a1 + (a2 + a3);
}
