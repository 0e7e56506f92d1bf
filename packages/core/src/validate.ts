import { DimensionMismatchError, InvalidInputError, NonFiniteInputError } from './errors.js';

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

const isFloat32Array = (x: unknown): x is Float32Array =>
  x instanceof Float32Array || Object.prototype.toString.call(x) === '[object Float32Array]';

function requireFloat32(what: string, x: unknown): void {
  if (!isFloat32Array(x)) {
    const got = x === null ? 'null' : Array.isArray(x) ? 'Array' : typeof x === 'object' ? (x as object).constructor?.name ?? 'object' : typeof x;
    throw new InvalidInputError(`${what} must be a Float32Array, got ${got}`);
  }
}

/**
 * {@link checkVector} for the arguments of a cache: the vector must also be a `Float32Array`
 * (one rule on every path: plain arrays are refused, not copied on some paths and not others).
 *
 * @param what - Argument name for the message.
 * @param x - The vector.
 * @param length - The length it must have.
 * @param finite - Also check that every entry is finite (default true; false for output buffers).
 * @throws {@link InvalidInputError} when it is not a Float32Array.
 * @throws {@link DimensionMismatchError} on a wrong length.
 * @throws {@link NonFiniteInputError} on NaN or ±Infinity.
 * @example
 * ```ts
 * import { checkFloat32Vector } from '@kv/core';
 * checkFloat32Vector('key', new Float32Array(64), 64);
 * ```
 */
export function checkFloat32Vector(what: string, x: Float32Array, length: number, finite = true): void {
  requireFloat32(what, x);
  if (x.length !== length) throw new DimensionMismatchError(what, x.length, length);
  if (finite) checkFinite(what, x);
}

/**
 * {@link checkRows} for the arguments of a cache: the rows must also be a `Float32Array`.
 *
 * @param what - Argument name for the message.
 * @param x - The rows.
 * @param width - The row length.
 * @returns The number of rows.
 * @throws {@link InvalidInputError} when it is not a Float32Array.
 * @throws {@link DimensionMismatchError} when the length is not a multiple of `width`.
 * @throws {@link NonFiniteInputError} on NaN or ±Infinity.
 * @example
 * ```ts
 * import { checkFloat32Rows } from '@kv/core';
 * checkFloat32Rows('keys', new Float32Array(128), 64); // 2
 * ```
 */
export function checkFloat32Rows(what: string, x: Float32Array, width: number): number {
  requireFloat32(what, x);
  return checkRows(what, x, width);
}
