import { dotUnit } from './dot.js';
import type { FloatArray } from './types.js';

/**
 * General matrix-vector product, BLAS `gemv` on strided storage:
 * y ← alpha·op(A)·x + beta·y, with op(A) = A (`'N'`) or Aᵀ (`'T'`) and A an M×N matrix whose
 * element (i, j) lives at `A[offsetA + i·strideA1 + j·strideA2]`.
 *
 * @param trans - `'N'` for A·x (x has N elements, y has M), `'T'` for Aᵀ·x (x has M, y has N).
 * @param M - Rows of A.
 * @param N - Columns of A.
 * @param alpha - Multiplier of the product.
 * @param A - Matrix storage.
 * @param strideA1 - Step between rows.
 * @param strideA2 - Step between columns.
 * @param offsetA - Index of A(0, 0).
 * @param x - Input vector storage.
 * @param strideX - Step between elements of `x`.
 * @param offsetX - Index of the first element of `x`.
 * @param beta - Multiplier of the old `y` (0 ignores it, even if it holds NaN).
 * @param y - Output vector storage, updated in place.
 * @param strideY - Step between elements of `y`.
 * @param offsetY - Index of the first element of `y`.
 * @returns `y`.
 * @example
 * ```ts
 * import { gemv } from '@kv/core';
 * const A = new Float32Array([1, 2, 3, 4]); // [[1, 2], [3, 4]] row-major
 * gemv('N', 2, 2, 1, A, 2, 1, 0, new Float32Array([1, 1]), 1, 0, 0, new Float64Array(2), 1, 0); // [3, 7]
 * ```
 */
export function gemv<T extends FloatArray>(
  trans: 'N' | 'T',
  M: number,
  N: number,
  alpha: number,
  A: FloatArray,
  strideA1: number,
  strideA2: number,
  offsetA: number,
  x: FloatArray,
  strideX: number,
  offsetX: number,
  beta: number,
  y: T,
  strideY: number,
  offsetY: number,
): T {
  const ylen = trans === 'N' ? M : N;
  if (beta === 0) {
    for (let i = 0, iy = offsetY; i < ylen; i++, iy += strideY) y[iy] = 0;
  } else if (beta !== 1) {
    for (let i = 0, iy = offsetY; i < ylen; i++, iy += strideY) y[iy] *= beta;
  }
  if (alpha === 0) return y;
  if (trans === 'N') {
    if (strideA2 === 1 && strideX === 1) {
      for (let i = 0, iy = offsetY, ia = offsetA; i < M; i++, iy += strideY, ia += strideA1) {
        y[iy] += alpha * dotUnit(N, A, ia, x, offsetX);
      }
      return y;
    }
    for (let i = 0, iy = offsetY; i < M; i++, iy += strideY) {
      let acc = 0;
      for (let j = 0, ia = offsetA + i * strideA1, ix = offsetX; j < N; j++, ia += strideA2, ix += strideX) {
        acc += A[ia]! * x[ix]!;
      }
      y[iy] += alpha * acc;
    }
    return y;
  }
  // Aᵀ·x: walk A row by row (contiguous for row-major storage) and scatter into y.
  if (strideA2 === 1 && strideY === 1) {
    for (let i = 0, ix = offsetX, ia = offsetA; i < M; i++, ix += strideX, ia += strideA1) {
      const a = alpha * x[ix]!;
      if (a === 0) continue;
      const m = N - (N % 4);
      let j = 0;
      for (; j < m; j += 4) {
        y[offsetY + j] += a * A[ia + j]!;
        y[offsetY + j + 1] += a * A[ia + j + 1]!;
        y[offsetY + j + 2] += a * A[ia + j + 2]!;
        y[offsetY + j + 3] += a * A[ia + j + 3]!;
      }
      for (; j < N; j++) y[offsetY + j] += a * A[ia + j]!;
    }
    return y;
  }
  for (let i = 0, ix = offsetX; i < M; i++, ix += strideX) {
    const a = alpha * x[ix]!;
    for (let j = 0, ia = offsetA + i * strideA1, iy = offsetY; j < N; j++, ia += strideA2, iy += strideY) {
      y[iy] += a * A[ia]!;
    }
  }
  return y;
}
