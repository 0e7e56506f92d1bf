import type { ExactCache } from './exact.js';

/**
 * Error of one approximate attention output against the exact one.
 *
 * @example
 * ```ts
 * import { ExactCache, compareToExact, type ErrorMetrics } from '@kv/core';
 * const exact = new ExactCache({ policy: 'exact', keyDim: 1, valueDim: 1 });
 * exact.append(new Float32Array([1]), new Float32Array([2]));
 * const m: ErrorMetrics = compareToExact(exact, new Float32Array([1]), new Float32Array([2.2]));
 * m.relative; // ≈ 0.1
 * ```
 */
export interface ErrorMetrics {
  /** ||z − Attn|| / ||Attn||. */
  relative: number;
  /** ||z − Attn|| / (||softmax||₂ · ||V||_F): the BalanceKV guarantee's normalisation. */
  normalized: number;
  /** cos(z, Attn). */
  cosine: number;
  /** max_j |z_j − Attn_j|. */
  maxAbs: number;
}

function diffNorm(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let acc = 0;
  for (let j = 0; j < a.length; j++) {
    const t = a[j]! - b[j]!;
    acc += t * t;
  }
  return Math.sqrt(acc);
}

function norm(a: ArrayLike<number>): number {
  let acc = 0;
  for (let j = 0; j < a.length; j++) acc += a[j]! * a[j]!;
  return Math.sqrt(acc);
}

/**
 * Relative error ||z − x|| / ||x|| (0 when both are zero, Infinity when only x is).
 *
 * @param approx - Approximate output z.
 * @param exact - Exact output x.
 * @returns The relative error.
 * @example
 * ```ts
 * import { relativeError } from '@kv/core';
 * relativeError([1.1, 0], [1, 0]); // ≈ 0.1
 * ```
 */
export function relativeError(approx: ArrayLike<number>, exact: ArrayLike<number>): number {
  const e = diffNorm(approx, exact);
  const n = norm(exact);
  if (n === 0) return e === 0 ? 0 : Infinity;
  return e / n;
}

/**
 * Cosine similarity of two vectors (1 when both are zero).
 *
 * @param a - First vector.
 * @param b - Second vector.
 * @returns <a,b> / (||a||·||b||).
 * @example
 * ```ts
 * import { cosineSimilarity } from '@kv/core';
 * cosineSimilarity([1, 0], [0, 1]); // 0
 * ```
 */
export function cosineSimilarity(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0;
  for (let j = 0; j < a.length; j++) ab += a[j]! * b[j]!;
  const na = norm(a);
  const nb = norm(b);
  if (na === 0 && nb === 0) return 1;
  if (na === 0 || nb === 0) return 0;
  return ab / (na * nb);
}

/**
 * Largest absolute difference.
 *
 * @param a - First vector.
 * @param b - Second vector.
 * @returns max_j |a_j − b_j|.
 * @example
 * ```ts
 * import { maxAbsError } from '@kv/core';
 * maxAbsError([1, 2], [1, 2.5]); // 0.5
 * ```
 */
export function maxAbsError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let j = 0; j < a.length; j++) m = Math.max(m, Math.abs(a[j]! - b[j]!));
  return m;
}

/**
 * The guarantee-normalised error ||z − Attn|| / (||softmax(Kq·τ)||₂ · ||V||_F) (algorithms.md §1).
 *
 * @param approx - Approximate output z.
 * @param exact - Exact output.
 * @param softmaxNorm - ||softmax(Kq·τ)||₂ of the exact attention.
 * @param valueFrobeniusNorm - ||V||_F over all tokens seen.
 * @returns The normalised error.
 * @example
 * ```ts
 * import { normalizedError } from '@kv/core';
 * normalizedError([1], [0], 0.5, 4); // 0.5
 * ```
 */
export function normalizedError(
  approx: ArrayLike<number>,
  exact: ArrayLike<number>,
  softmaxNorm: number,
  valueFrobeniusNorm: number,
): number {
  const e = diffNorm(approx, exact);
  const scale = softmaxNorm * valueFrobeniusNorm;
  if (scale === 0) return e === 0 ? 0 : Infinity;
  return e / scale;
}

/**
 * All error metrics of `approx` for `query`, against an exact cache fed the same stream.
 *
 * @param exact - The exact cache (same tokens as the approximate policy).
 * @param query - The query.
 * @param approx - The approximate output for `query`.
 * @param scratch - Optional buffer of length s for the exact output (avoids an allocation).
 * @returns Relative, normalised, cosine and max-abs errors.
 * @throws {@link EmptyCacheError} when `exact` holds no token; {@link DimensionMismatchError} for a
 *   query or scratch of the wrong length; {@link NonFiniteInputError} for NaN or Infinity in the
 *   query; {@link InvalidInputError} when it is not a Float32Array.
 * @example
 * ```ts
 * import { ExactCache, compareToExact } from '@kv/core';
 * const exact = new ExactCache({ policy: 'exact', keyDim: 1, valueDim: 1 });
 * exact.append(new Float32Array([1]), new Float32Array([2]));
 * compareToExact(exact, new Float32Array([1]), new Float32Array([2])).relative; // 0
 * ```
 */
export function compareToExact(
  exact: ExactCache,
  query: Float32Array,
  approx: ArrayLike<number>,
  scratch: Float32Array = new Float32Array(exact.valueDim),
): ErrorMetrics {
  const want = exact.attend(query, scratch);
  return {
    relative: relativeError(approx, want),
    normalized: normalizedError(approx, want, exact.softmaxNorm(query), exact.valueFrobeniusNorm),
    cosine: cosineSimilarity(approx, want),
    maxAbs: maxAbsError(approx, want),
  };
}

/**
 * Achieved compression ratio of a cache: the bytes an fp32 full cache would hold for the tokens
 * seen, 4·seen·(d + s), divided by the bytes the cache holds (2 means half the memory).
 *
 * @param cache - Any head cache.
 * @returns The ratio (Infinity for an empty cache with no state, 0 before any token).
 * @example
 * ```ts
 * import { ExactCache, compressionRatio } from '@kv/core';
 * compressionRatio(new ExactCache({ policy: 'exact', keyDim: 4, valueDim: 4 }));
 * ```
 */
export function compressionRatio(cache: {
  readonly seen: number;
  readonly keyDim: number;
  readonly valueDim: number;
  readonly bytes: number;
}): number {
  const full = 4 * cache.seen * (cache.keyDim + cache.valueDim);
  if (cache.bytes === 0) return full === 0 ? 0 : Infinity;
  return full / cache.bytes;
}
