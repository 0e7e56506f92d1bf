import { InvalidParamsError } from '@kv/core';

/**
 * C(d + g, g): the number of monomials of degree at most g in d variables (the total size of the
 * symmetric Taylor moments up to degree g), computed in floating point so that huge counts stay
 * comparable instead of overflowing an integer.
 *
 * @param d - Number of variables (key dimension).
 * @param g - Largest degree.
 * @returns The count (exact while it is below 2^53).
 * @example
 * ```ts
 * import { monomialCount } from '@kv/polynomial';
 * monomialCount(16, 4); // 4845 = C(20, 4)
 * ```
 */
export function monomialCount(d: number, g: number): number {
  let c = 1;
  for (let i = 1; i <= g; i++) c = (c * (d + i)) / i;
  return Math.round(c);
}

/**
 * C(d + ℓ − 1, ℓ): the number of monomials of degree exactly ℓ in d variables.
 *
 * @param d - Number of variables.
 * @param l - The degree.
 * @returns The count.
 * @example
 * ```ts
 * import { monomialCountOfDegree } from '@kv/polynomial';
 * monomialCountOfDegree(3, 2); // 6: x², y², z², xy, xz, yz
 * ```
 */
export function monomialCountOfDegree(d: number, l: number): number {
  return l === 0 ? 1 : monomialCount(d - 1, l);
}

/**
 * Largest degree a basis supports (exponents are stored as bytes).
 * @example
 * ```ts
 * import { MAX_DEGREE, MonomialBasis } from '@kv/polynomial';
 * new MonomialBasis(1, MAX_DEGREE).size; // 256: 1, x, …, x^255
 * ```
 */
export const MAX_DEGREE = 255;

/**
 * The symmetric monomial basis of degree ≤ g in d variables, in graded order: degree 0, then the
 * C(d, 1) monomials of degree 1, …, then the C(d+g−1, g) monomials of degree g. Each multi-index α
 * is enumerated once (α = β + e_j with j at least the last variable of β), so the basis has
 * C(d+g, g) entries rather than the Σ d^ℓ of the tensor-power basis.
 *
 * Every monomial of degree ℓ ≥ 1 is stored as its parent β (degree ℓ − 1), the variable j it
 * multiplies and the new exponent α_j, which is what lets {@link monomialFeatures} compute all
 * features of a vector with one multiplication (two for keys) per monomial and no allocation.
 *
 * @remarks Memory: `parent` (Int32), `variable` (Uint16) and `exponent` (Uint8) take 7 bytes per
 * monomial; the moments it indexes take 8·(s+1) bytes per monomial, so the tables are small beside them.
 * @example
 * ```ts
 * import { MonomialBasis } from '@kv/polynomial';
 * const basis = new MonomialBasis(3, 2);
 * basis.size; // 10 = C(5, 2)
 * basis.blockStart(2); // 4: the degree-2 block starts after 1 + 3 entries
 * ```
 */
export class MonomialBasis {
  /** Number of variables d. */
  readonly dim: number;
  /** Largest degree g. */
  readonly degree: number;
  /** Number of monomials, C(d+g, g). */
  readonly size: number;
  /** Index of the parent monomial β of each α = β + e_j (−1 for the constant). */
  readonly parent: Int32Array;
  /** The variable j of each α = β + e_j (0 for the constant). */
  readonly variable: Uint16Array;
  /** The exponent α_j after the multiplication (0 for the constant). */
  readonly exponent: Uint8Array;
  /** `starts[ℓ]` is the first index of degree ℓ; `starts[g+1]` is `size`. */
  readonly starts: Int32Array;

  /**
   * @param d - Number of variables (≥ 1, ≤ 65535).
   * @param g - Largest degree (0 ≤ g ≤ 255).
   * @throws `InvalidParamsError` on an out-of-range dimension or degree.
   */
  constructor(d: number, g: number) {
    if (!Number.isInteger(d) || d < 1 || d > 65535) throw new InvalidParamsError(`basis dimension is ${d}, expected an integer in [1, 65535]`);
    if (!Number.isInteger(g) || g < 0 || g > MAX_DEGREE) {
      throw new InvalidParamsError(`basis degree is ${g}, expected an integer in [0, ${MAX_DEGREE}]`);
    }
    const size = monomialCount(d, g);
    if (size > 2 ** 31 - 1) throw new InvalidParamsError(`C(${d}+${g}, ${g}) = ${size} monomials do not fit in one array`);
    this.dim = d;
    this.degree = g;
    this.size = size;
    this.parent = new Int32Array(size);
    this.variable = new Uint16Array(size);
    this.exponent = new Uint8Array(size);
    this.starts = new Int32Array(g + 2);
    this.parent[0] = -1;
    let next = 1;
    this.starts[0] = 0;
    for (let l = 1; l <= g; l++) {
      this.starts[l] = next;
      const from = this.starts[l - 1]!;
      const to = next;
      for (let b = from; b < to; b++) {
        const last = this.variable[b]!;
        const lastExp = this.exponent[b]!;
        for (let j = last; j < d; j++) {
          this.parent[next] = b;
          this.variable[next] = j;
          this.exponent[next] = j === last ? lastExp + 1 : 1;
          next++;
        }
      }
    }
    this.starts[g + 1] = next;
  }

  /**
   * First index of the degree-ℓ block.
   * @param l - Degree (0 ≤ ℓ ≤ g + 1; ℓ = g + 1 gives `size`).
   * @returns The index.
   */
  blockStart(l: number): number {
    return this.starts[l]!;
  }

  /** Bytes of the index tables. */
  get tableBytes(): number {
    return this.parent.byteLength + this.variable.byteLength + this.exponent.byteLength + this.starts.byteLength;
  }
}

/**
 * The multi-indices of a basis as rows of exponents (size × d, row-major), in the basis order.
 * For inspection and tests; the hot paths use the parent tables instead.
 *
 * @param d - Number of variables.
 * @param g - Largest degree.
 * @returns Exponents α (row i is the multi-index of monomial i).
 * @throws `InvalidParamsError` on an out-of-range dimension or degree.
 * @example
 * ```ts
 * import { multiIndices } from '@kv/polynomial';
 * multiIndices(2, 2); // rows [0,0] [1,0] [0,1] [2,0] [1,1] [0,2]
 * ```
 */
export function multiIndices(d: number, g: number): Uint8Array {
  const basis = new MonomialBasis(d, g);
  const out = new Uint8Array(basis.size * d);
  for (let i = 1; i < basis.size; i++) {
    const p = basis.parent[i]!;
    out.copyWithin(i * d, p * d, p * d + d);
    out[i * d + basis.variable[i]!]!++;
  }
  return out;
}

/** 1/j for j = 0..255 (entry 0 unused), so key features divide by α_j without a division. */
const RECIPROCALS = (() => {
  const r = new Float64Array(MAX_DEGREE + 1);
  for (let j = 1; j <= MAX_DEGREE; j++) r[j] = 1 / j;
  return r;
})();

/**
 * Monomial features of a vector for every degree ℓ ≤ g, written into `out` in basis order.
 *
 * The normalisation is asymmetric: keys get φ_α(x) = x^α / α! and queries get ψ_α(u) = u^α, so by
 * the multinomial theorem Σ_{|α|=ℓ} ψ_α(u)·φ_α(x) = <u, x>^ℓ / ℓ! exactly, for every ℓ. Keeping the
 * 1/α! on the key side makes the stored moments small (|φ_α(x)| ≤ ||x||^ℓ/ℓ! summed over a degree).
 *
 * @param basis - The monomial basis (dimension d, degree g).
 * @param x - The vector (length ≥ offset + d).
 * @param kind - `'key'` for x^α/α!, `'query'` for x^α.
 * @param out - Receives `basis.size` features.
 * @param offset - Index of the vector's first element (default 0).
 * @returns `out`.
 * @example
 * ```ts
 * import { MonomialBasis, monomialFeatures } from '@kv/polynomial';
 * const basis = new MonomialBasis(2, 2);
 * monomialFeatures(basis, new Float64Array([1, 2]), 'key', new Float64Array(basis.size));
 * // [1, 1, 2, 1/2, 2, 2]: 1, x, y, x²/2, xy, y²/2
 * ```
 */
export function monomialFeatures(
  basis: MonomialBasis,
  x: ArrayLike<number>,
  kind: 'key' | 'query',
  out: Float64Array,
  offset = 0,
): Float64Array {
  const n = basis.size;
  const parent = basis.parent;
  const variable = basis.variable;
  out[0] = 1;
  if (kind === 'key') {
    const exponent = basis.exponent;
    for (let i = 1; i < n; i++) out[i] = out[parent[i]!]! * x[offset + variable[i]!]! * RECIPROCALS[exponent[i]!]!;
  } else {
    for (let i = 1; i < n; i++) out[i] = out[parent[i]!]! * x[offset + variable[i]!]!;
  }
  return out;
}
