import { monomialCount } from '@kv/polynomial';

/**
 * Token rows every growable tensor cache allocates before its first doubling.
 *
 * @example
 * ```ts
 * import { INITIAL_TOKEN_ROWS } from '@kv/tensor';
 * INITIAL_TOKEN_ROWS; // 16
 * ```
 */
export const INITIAL_TOKEN_ROWS = 16;

/**
 * Token rows allocated after `n` appends: the caches grow by doubling, so this is the smallest
 * power of two ≥ n, and at least {@link INITIAL_TOKEN_ROWS}.
 *
 * @param n - Tokens appended.
 * @returns Allocated token rows.
 * @example
 * ```ts
 * import { allocatedTokenRows } from '@kv/tensor';
 * allocatedTokenRows(100); // 128
 * ```
 */
export function allocatedTokenRows(n: number): number {
  let rows = INITIAL_TOKEN_ROWS;
  while (rows < n) rows *= 2;
  return rows;
}

/**
 * Bytes of a cache: what its arrays allocate (growth slack included), and what it holds (its
 * `bytes`: the formula in n, no slack).
 * @example
 * ```ts
 * import { type CacheBytes, fourCacheBytes } from '@kv/tensor';
 * const b: CacheBytes = fourCacheBytes(100, 16, 16);
 * b.allocated; // 32768 = 8·32·128: storage has doubled to 128 token rows
 * b.live; // 25600 = 8·32·100, the cache's bytes
 * ```
 */
export interface CacheBytes {
  /** Byte length of the arrays allocated, growth slack included. */
  readonly allocated: number;
  /** Bytes held (the cache's `bytes`): the Θ-formula evaluated at n. */
  readonly live: number;
}

/**
 * Memory of the four-cache after n tokens: K1, K2 (n·d fp32 each) and V1, V2 (n·s fp32 each),
 * so `live = 8·(d+s)·n` bytes, Θ(nd).
 *
 * @param n - Tokens appended.
 * @param d - Key dimension.
 * @param s - Value dimension.
 * @returns Allocated and live bytes.
 * @example
 * ```ts
 * import { fourCacheBytes } from '@kv/tensor';
 * fourCacheBytes(1024, 16, 16).live; // 262144
 * ```
 */
export function fourCacheBytes(n: number, d: number, s: number): CacheBytes {
  return { allocated: 8 * (d + s) * allocatedTokenRows(n), live: 8 * (d + s) * n };
}

/**
 * Memory of the two-cache after n tokens: the n² pair rows K1⊘K2 (d fp32 each) and V1⊘V2 (s fp32
 * each), plus the raw K1, K2, V1, V2 it needs to form the pairs of future tokens, so
 * `live = 4·(d+s)·(n² + 2n)` bytes, Θ(n²d). Pair storage is allocated as (token rows)² pair rows.
 *
 * @param n - Tokens appended.
 * @param d - Key dimension.
 * @param s - Value dimension.
 * @returns Allocated and live bytes.
 * @example
 * ```ts
 * import { twoCacheBytes } from '@kv/tensor';
 * twoCacheBytes(1024, 16, 16).live; // 134479872
 * ```
 */
export function twoCacheBytes(n: number, d: number, s: number): CacheBytes {
  const rows = allocatedTokenRows(n);
  return { allocated: 4 * (d + s) * (rows * rows + 2 * rows), live: 4 * (d + s) * (n * n + 2 * n) };
}

/**
 * Memory of the Taylor-moment cache after its first token, independent of n: F = C(d+g, g)
 * features (`monomialCount` of `@kv/polynomial`), each with two scalar moments and two s-vectors
 * of moments in Float64, plus the per-coordinate value maxima of v1 and v2 (2s doubles) and four
 * key-norm maxima, `8·(F·(2 + 2s) + 2s + 4)` bytes, and the monomial tables (`7F + 4(g + 2)`
 * bytes). The Float64 feature and scaled-query scratch (`8F + 8d`) is not state and not counted.
 *
 * @param d - Key dimension.
 * @param s - Value dimension.
 * @param degree - Taylor degree g.
 * @returns Bytes (allocated = live).
 * @example
 * ```ts
 * import { taylorCacheBytes } from '@kv/tensor';
 * taylorCacheBytes(16, 16, 4).live; // 1352067
 * ```
 */
export function taylorCacheBytes(d: number, s: number, degree: number): CacheBytes {
  const f = monomialCount(d, degree);
  // Moments, value maxima and norms; the basis tables (Int32 parent, Uint16 variable, Uint8
  // exponent per monomial, Int32 block starts).
  const bytes = 8 * (f * (2 + 2 * s) + 2 * s + 4) + 7 * f + 4 * (degree + 2);
  return { allocated: bytes, live: bytes };
}
