import { DimensionMismatchError, NonFiniteInputError } from './errors.js';

/**
 * Checks a vector's length and that every entry is finite, once, at a public boundary.
 *
 * @param what - Argument name for the message.
 * @param x - The vector.
 * @param length - The length it must have.
 * @throws {@link DimensionMismatchError} on a wrong length.
 * @throws {@link NonFiniteInputError} on NaN or ±Infinity.
 * @example
 * ```ts
 * import { checkVector } from '@kv/core';
 * checkVector('key', new Float32Array(64), 64);
 * ```
 */
export function checkVector(what: string, x: ArrayLike<number>, length: number): void {
  if (x.length !== length) throw new DimensionMismatchError(what, x.length, length);
  checkFinite(what, x);
}

/**
 * Checks a row-major block of vectors: its length is a multiple of `width`, entries finite.
 *
 * @param what - Argument name for the message.
 * @param x - The rows.
 * @param width - The row length.
 * @returns The number of rows.
 * @throws {@link DimensionMismatchError} when the length is not a multiple of `width`.
 * @throws {@link NonFiniteInputError} on NaN or ±Infinity.
 * @example
 * ```ts
 * import { checkRows } from '@kv/core';
 * checkRows('keys', new Float32Array(128), 64); // 2
 * ```
 */
export function checkRows(what: string, x: ArrayLike<number>, width: number): number {
  if (x.length % width !== 0) {
    throw new DimensionMismatchError(what, x.length, Math.max(width, x.length - (x.length % width)));
  }
  checkFinite(what, x);
  return x.length / width;
}

function checkFinite(what: string, x: ArrayLike<number>): void {
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    // v - v is 0 for finite v and NaN for NaN/±Infinity: one branch-free test per element.
    if (v - v !== 0) throw new NonFiniteInputError(what, i, v);
  }
}
