import { InvalidParamsError } from '@kv/core';
import { monomialCount } from './memory.js';

/** Largest feature count a {@link MonomialBasis} accepts (about 16 MiB per Float64 feature vector). */
export const MAX_MONOMIALS = 1 << 21;

/**
 * All monomials x^α of total degree |α| ≤ g in d variables, in graded order, each defined from a
 * parent by one multiplication (x^α = x^{parent}·x_var), so a feature vector costs one
 * multiplication per monomial. Also holds 1/α! (α! = Π_c α_c!), the coefficient of q^α x^α in
 * e^{<q,x>} = Σ_α q^α x^α / α!.
 *
 * @example
 * ```ts
 * import { MonomialBasis } from '@kv/tensor';
 * const basis = new MonomialBasis(2, 2); // 1, x0, x1, x0², x0x1, x1²
 * basis.evaluate(new Float32Array([2, 3]), 1, new Float64Array(basis.size)); // [1, 2, 3, 4, 6, 9]
 * ```
 */
export class MonomialBasis {
  /** Variables d. */
  readonly dim: number;
  /** Largest total degree g. */
  readonly degree: number;
  /** Number of monomials, C(d+g, g). */
  readonly size: number;
  /** Index of each monomial's parent (−1 for the constant monomial). */
  readonly parent: Int32Array;
  /** Variable each monomial multiplies its parent by. */
  readonly variable: Int32Array;
  /** Total degree |α| of each monomial. */
  readonly degreeOf: Int32Array;
  /** 1/α! of each monomial. */
  readonly inverseFactorial: Float64Array;

  /**
   * @param dim - Variables d (≥ 1).
   * @param degree - Largest total degree g (≥ 0).
   * @throws `InvalidParamsError` when C(d+g, g) exceeds {@link MAX_MONOMIALS}.
   */
  constructor(dim: number, degree: number) {
    const size = monomialCount(dim, degree);
    if (size > MAX_MONOMIALS) {
      throw new InvalidParamsError(`degree ${degree} in dimension ${dim} needs ${size} monomials, more than ${MAX_MONOMIALS}`);
    }
    this.dim = dim;
    this.degree = degree;
    this.size = size;
    this.parent = new Int32Array(size);
    this.variable = new Int32Array(size);
    this.degreeOf = new Int32Array(size);
    this.inverseFactorial = new Float64Array(size);
    // Monomials are non-decreasing variable sequences; `run` counts the trailing repeats of the last
    // variable, so α! updates by one multiplication: α!_child = α!_parent · (α_var + 1).
    const run = new Int32Array(size);
    this.parent[0] = -1;
    this.variable[0] = -1;
    this.inverseFactorial[0] = 1;
    let next = 1;
    let levelStart = 0;
    let levelEnd = 1;
    for (let l = 1; l <= degree; l++) {
      for (let p = levelStart; p < levelEnd; p++) {
        const last = this.variable[p]!;
        for (let v = Math.max(last, 0); v < dim; v++) {
          const r = v === last ? run[p]! + 1 : 1;
          this.parent[next] = p;
          this.variable[next] = v;
          this.degreeOf[next] = l;
          run[next] = r;
          this.inverseFactorial[next] = this.inverseFactorial[p]! / r;
          next++;
        }
      }
      levelStart = levelEnd;
      levelEnd = next;
    }
  }

  /**
   * Evaluates every monomial at `scale·x`.
   * @param x - Point of length d.
   * @param scale - Multiplier of x (τ for queries, 1 for keys).
   * @param out - Receives the `size` monomial values.
   * @returns `out`.
   */
  evaluate(x: ArrayLike<number>, scale: number, out: Float64Array): Float64Array {
    out[0] = 1;
    const parent = this.parent;
    const variable = this.variable;
    for (let f = 1; f < this.size; f++) out[f] = out[parent[f]!]! * (scale * x[variable[f]!]!);
    return out;
  }
}
