import type { FloatArray } from './types.js';

/**
 * y ← alpha·x + y over strided vectors.
 *
 * @param n - Number of elements.
 * @param alpha - Scalar multiplier of `x`.
 * @param x - Input vector storage.
 * @param strideX - Step between elements of `x`.
 * @param offsetX - Index of the first element of `x`.
 * @param y - Output vector storage, updated in place.
 * @param strideY - Step between elements of `y`.
 * @param offsetY - Index of the first element of `y`.
 * @returns `y`.
 * @example
 * ```ts
 * import { axpy } from '@kv/core';
 * axpy(2, 3, new Float32Array([1, 2]), 1, 0, new Float64Array([1, 1]), 1, 0); // [4, 7]
 * ```
 */
export function axpy<T extends FloatArray>(
  n: number,
  alpha: number,
  x: FloatArray,
  strideX: number,
  offsetX: number,
  y: T,
  strideY: number,
  offsetY: number,
): T {
  if (alpha === 0) return y;
  if (strideX === 1 && strideY === 1) {
    const m = n - (n % 4);
    let i = 0;
    for (; i < m; i += 4) {
      y[offsetY + i] += alpha * x[offsetX + i]!;
      y[offsetY + i + 1] += alpha * x[offsetX + i + 1]!;
      y[offsetY + i + 2] += alpha * x[offsetX + i + 2]!;
      y[offsetY + i + 3] += alpha * x[offsetX + i + 3]!;
    }
    for (; i < n; i++) y[offsetY + i] += alpha * x[offsetX + i]!;
    return y;
  }
  let ix = offsetX;
  let iy = offsetY;
  for (let i = 0; i < n; i++) {
    y[iy] += alpha * x[ix]!;
    ix += strideX;
    iy += strideY;
  }
  return y;
}

/**
 * x ← alpha·x over a strided vector.
 *
 * @param n - Number of elements.
 * @param alpha - Scalar multiplier.
 * @param x - Vector storage, updated in place.
 * @param strideX - Step between elements.
 * @param offsetX - Index of the first element.
 * @returns `x`.
 * @example
 * ```ts
 * import { scal } from '@kv/core';
 * scal(2, 0.5, new Float64Array([2, 4]), 1, 0); // [1, 2]
 * ```
 */
export function scal<T extends FloatArray>(n: number, alpha: number, x: T, strideX: number, offsetX: number): T {
  let ix = offsetX;
  for (let i = 0; i < n; i++) {
    x[ix] *= alpha;
    ix += strideX;
  }
  return x;
}

/**
 * Euclidean norm of a strided vector, scaled to avoid overflow and underflow (as BLAS dnrm2).
 *
 * @param n - Number of elements.
 * @param x - Vector storage.
 * @param strideX - Step between elements.
 * @param offsetX - Index of the first element.
 * @returns ||x||₂.
 * @example
 * ```ts
 * import { nrm2 } from '@kv/core';
 * nrm2(2, new Float32Array([3, 4]), 1, 0); // 5
 * ```
 */
export function nrm2(n: number, x: FloatArray, strideX: number, offsetX: number): number {
  let scale = 0;
  let ssq = 1;
  let ix = offsetX;
  for (let i = 0; i < n; i++) {
    const v = x[ix]!;
    if (v !== 0) {
      const a = Math.abs(v);
      if (scale < a) {
        const r = scale / a;
        ssq = 1 + ssq * r * r;
        scale = a;
      } else {
        const r = a / scale;
        ssq += r * r;
      }
    }
    ix += strideX;
  }
  return scale * Math.sqrt(ssq);
}

/**
 * Copies a strided vector into another.
 *
 * @param n - Number of elements.
 * @param x - Source storage.
 * @param strideX - Step between elements of `x`.
 * @param offsetX - Index of the first element of `x`.
 * @param y - Destination storage.
 * @param strideY - Step between elements of `y`.
 * @param offsetY - Index of the first element of `y`.
 * @returns `y`.
 * @example
 * ```ts
 * import { copy } from '@kv/core';
 * copy(2, new Float32Array([1, 2]), 1, 0, new Float32Array(4), 2, 0); // [1, 0, 2, 0]
 * ```
 */
export function copy<T extends FloatArray>(
  n: number,
  x: FloatArray,
  strideX: number,
  offsetX: number,
  y: T,
  strideY: number,
  offsetY: number,
): T {
  if (strideX === 1 && strideY === 1 && x.constructor === y.constructor) {
    (y as Float32Array).set((x as Float32Array).subarray(offsetX, offsetX + n), offsetY);
    return y;
  }
  let ix = offsetX;
  let iy = offsetY;
  for (let i = 0; i < n; i++) {
    y[iy] = x[ix]!;
    ix += strideX;
    iy += strideY;
  }
  return y;
}
