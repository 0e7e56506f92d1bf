import { axpy, type CacheState, dotUnit, type FloatArray, gemv, type KernelSums, nrm2, type StateReader } from '@kv/core';
import { MonomialBasis, monomialCount, monomialFeatures } from './monomials.js';

/**
 * Float64 Taylor moments of `count` expansions, each about its own centre c_e:
 * for every monomial α of degree ≤ g, M_e[α] = Σ_i φ_α(x_i)·[1, v_i] with x_i = (k_i − c_e)/S_e
 * and φ_α(x) = x^α/α! (column 0 is the denominator moment, columns 1..s the numerator).
 *
 * S_e is a power of two at least the largest ||k_i − c_e||: when a key lands farther out, the
 * degree-ℓ block is multiplied by (S_old/S_new)^ℓ, an exact power-of-two rescaling. Every stored
 * moment then lies in [−n, n], and a query of any norm is evaluated with per-degree weights in
 * log space, so nothing overflows.
 *
 * Shared by {@link TaylorCache} (one expansion) and {@link MultipoleCache} (one per cell).
 *
 * @example
 * ```ts
 * import { MomentExpansions, MonomialBasis } from '@kv/polynomial';
 * const m = new MomentExpansions(new MonomialBasis(2, 4), 1, 1);
 * m.add(0, new Float32Array([0.1, 0.2]), new Float32Array([3]));
 * ```
 */
export class MomentExpansions {
  /** The monomial basis (dimension d, degree g). */
  readonly basis: MonomialBasis;
  /** Number of expansions. */
  readonly count: number;
  /** Value dimension s. */
  readonly valueDim: number;
  /** Row width s + 1 (denominator, then numerator). */
  readonly width: number;
  /** Moments, count × size × (s+1), row-major. */
  readonly moments: Float64Array;
  /** Centres, count × d. */
  readonly centres: Float64Array;
  /** Per-expansion max ||k − c|| (computed in Float64). */
  readonly radii: Float64Array;
  /** Per-expansion power-of-two scale S ≥ radius. */
  readonly scales: Float64Array;
  /** Tokens accumulated per expansion. */
  readonly tokens: Float64Array;
  private readonly features: Float64Array;
  private readonly diff: Float64Array;
  private readonly weights: Float64Array;
  private readonly acc: Float64Array;

  /**
   * @param basis - The monomial basis.
   * @param count - Number of expansions.
   * @param valueDim - Value dimension s.
   */
  constructor(basis: MonomialBasis, count: number, valueDim: number) {
    this.basis = basis;
    this.count = count;
    this.valueDim = valueDim;
    this.width = valueDim + 1;
    this.moments = new Float64Array(count * basis.size * this.width);
    this.centres = new Float64Array(count * basis.dim);
    this.radii = new Float64Array(count);
    this.scales = new Float64Array(count).fill(1);
    this.tokens = new Float64Array(count);
    this.features = new Float64Array(basis.size);
    this.diff = new Float64Array(basis.dim);
    this.weights = new Float64Array(basis.degree + 1);
    this.acc = new Float64Array(this.width);
  }

  /**
   * The state of the first `active` expansions (views): their moments, centres, radii, scales and
   * token counts, and the basis tables (held memory, so counted; checked on load). Its bytes are
   * {@link expansionStateBytes} of `active` expansions.
   * @param active - Expansions in use (default all).
   * @returns The state.
   */
  state(active = this.count): CacheState {
    const size = this.basis.size;
    const d = this.basis.dim;
    const b = this.basis;
    return {
      scalars: {},
      arrays: {
        moments: this.moments.subarray(0, active * size * this.width),
        centres: this.centres.subarray(0, active * d),
        radii: this.radii.subarray(0, active),
        scales: this.scales.subarray(0, active),
        tokens: this.tokens.subarray(0, active),
        basisParent: b.parent,
        basisVariable: b.variable,
        basisExponent: b.exponent,
        basisStarts: b.starts,
      },
    };
  }

  /**
   * Loads a state of {@link MomentExpansions.state} (of `active` expansions) into cleared expansions.
   * @param r - A reader of the state.
   * @param active - Expansions the state holds.
   * @throws `SnapshotError` when an array is missing or of the wrong size, or the basis differs.
   */
  loadState(r: StateReader, active: number): void {
    const size = this.basis.size;
    const d = this.basis.dim;
    const b = this.basis;
    const moments = r.array('moments', Float64Array, active * size * this.width);
    const centres = r.array('centres', Float64Array, active * d);
    const radii = r.array('radii', Float64Array, active);
    const scales = r.array('scales', Float64Array, active);
    const tokens = r.array('tokens', Float64Array, active);
    const same = (name: string, want: Int32Array | Uint16Array | Uint8Array): void => {
      const got = r.array(name, want.constructor as typeof Int32Array, want.length);
      for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) r.refuse(`array "${name}" is not the basis of degree ${b.degree} in ${d} variables`);
    };
    same('basisParent', b.parent);
    same('basisVariable', b.variable);
    same('basisExponent', b.exponent);
    same('basisStarts', b.starts);
    this.clear();
    this.moments.set(moments);
    this.centres.set(centres);
    this.radii.set(radii);
    this.scales.set(scales);
    this.tokens.set(tokens);
  }

  /**
   * Sets the centre of an (empty) expansion.
   * @param e - Expansion index.
   * @param centre - The centre (length d).
   * @param offset - Index of its first element (default 0).
   */
  setCentre(e: number, centre: ArrayLike<number>, offset = 0): void {
    const d = this.basis.dim;
    for (let j = 0; j < d; j++) this.centres[e * d + j] = centre[offset + j]!;
  }

  /**
   * Squared distance from a key to the centre of expansion `e`.
   * @param e - Expansion index.
   * @param key - The key (length d).
   * @param offset - Index of the key's first element (default 0).
   * @returns ||k − c_e||².
   */
  distanceSquared(e: number, key: ArrayLike<number>, offset = 0): number {
    const d = this.basis.dim;
    const c = this.centres;
    let s = 0;
    for (let j = 0, o = e * d; j < d; j++, o++) {
      const t = key[offset + j]! - c[o]!;
      s += t * t;
    }
    return s;
  }

  /**
   * Adds one token to expansion `e`.
   * @param e - Expansion index.
   * @param key - Key (length d).
   * @param value - Value (length s).
   * @param keyOffset - Index of the key's first element (default 0).
   * @param valueOffset - Index of the value's first element (default 0).
   */
  add(e: number, key: FloatArray, value: FloatArray, keyOffset = 0, valueOffset = 0): void {
    const d = this.basis.dim;
    const diff = this.diff;
    const c = this.centres;
    for (let j = 0; j < d; j++) diff[j] = key[keyOffset + j]! - c[e * d + j]!;
    const norm = nrm2(d, diff, 1, 0);
    if (norm > this.radii[e]!) this.radii[e] = norm;
    if (norm > this.scales[e]!) this.rescale(e, 2 ** Math.ceil(Math.log2(norm)));
    const inv = 1 / this.scales[e]!;
    for (let j = 0; j < d; j++) diff[j]! *= inv;
    const f = monomialFeatures(this.basis, diff, 'key', this.features);
    const w = this.width;
    const s = this.valueDim;
    const base = e * this.basis.size * w;
    const m = this.moments;
    for (let a = 0, row = base; a < f.length; a++, row += w) {
      const fa = f[a]!;
      m[row] += fa;
      axpy(s, fa, value, 1, valueOffset, m, 1, row + 1);
    }
    this.tokens[e]!++;
  }

  /** Multiplies block ℓ of expansion e by (S/S')^ℓ: exact, since S/S' is a power of two. */
  private rescale(e: number, next: number): void {
    const factor = this.scales[e]! / next;
    const w = this.width;
    const base = e * this.basis.size * w;
    const starts = this.basis.starts;
    let f = 1;
    for (let l = 1; l <= this.basis.degree; l++) {
      f *= factor;
      const from = base + starts[l]! * w;
      const to = base + starts[l + 1]! * w;
      for (let i = from; i < to; i++) this.moments[i]! *= f;
    }
    this.scales[e] = next;
  }

  /**
   * Query features ψ(û) = û^α of the unit query û = q/||q|| (zero when q = 0), shared by all
   * expansions; call once per query before {@link MomentExpansions.evaluate}.
   * @param query - The query (length d).
   * @param out - Receives `basis.size` features.
   * @returns ||q||.
   */
  queryFeatures(query: Float32Array, out: Float64Array): number {
    const d = this.basis.dim;
    const norm = nrm2(d, query, 1, 0);
    const diff = this.diff;
    const inv = norm > 0 ? 1 / norm : 0;
    for (let j = 0; j < d; j++) diff[j] = query[j]! * inv;
    monomialFeatures(this.basis, diff, 'query', out);
    return norm;
  }

  /**
   * The degree-g Taylor estimate of expansion e's kernel sums, in log-scaled form:
   * Σ_i T_g(<q, k_i − c>τ)·[1, v_i] times e^{<q,c>τ}.
   *
   * @param e - Expansion index.
   * @param query - The query.
   * @param queryNorm - ||q|| (from {@link MomentExpansions.queryFeatures}).
   * @param psi - ψ(û) (from {@link MomentExpansions.queryFeatures}).
   * @param tau - Logit scale τ.
   * @param out - Receives the sums.
   * @returns `out`.
   * @remarks With a = ||q||τ and x̃ = (k − c)/S, <q, k − c>τ = (aS)·<û, x̃>, so degree ℓ contributes
   * (aS)^ℓ·<ψ_ℓ(û), M_ℓ>. The weight (aS)^ℓ is applied as e^{ℓ·ln(aS) − m'} with
   * m' = max(0, g·ln(aS)), and m = <q,c>τ + m' goes into the log scale (centring identity, §2.3).
   */
  evaluate(e: number, query: Float32Array, queryNorm: number, psi: Float64Array, tau: number, out: KernelSums): KernelSums {
    const g = this.basis.degree;
    const d = this.basis.dim;
    const w = this.width;
    const logA = Math.log(queryNorm * tau * this.scales[e]!);
    const top = logA > 0 ? g * logA : 0;
    const weights = this.weights;
    weights[0] = Math.exp(-top);
    for (let l = 1; l <= g; l++) weights[l] = Math.exp(l * logA - top);
    const acc = this.acc;
    acc.fill(0);
    const base = e * this.basis.size * w;
    const starts = this.basis.starts;
    for (let l = 0; l <= g; l++) {
      const wl = weights[l]!;
      if (wl === 0) continue;
      const from = starts[l]!;
      const rows = starts[l + 1]! - from;
      gemv('T', rows, w, wl, this.moments, w, 1, base + from * w, psi, 1, from, 1, acc, 1, 0);
    }
    out.m = tau * dotUnit(d, this.centres, e * d, query, 0) + top;
    out.z = acc[0]!;
    const n = out.n;
    for (let j = 0; j < this.valueDim; j++) n[j] = acc[j + 1]!;
    return out;
  }

  /**
   * The expansion's tokens merged into one weighted token at their key mean μ: log-scaled sums
   * (m = <q,μ>τ, z = n, n = Σ v_i). By Jensen, n·e^{<q,μ>τ} ≤ Σ_i e^{<q,k_i>τ}, so this never
   * over-weights the expansion; its output is the mean value, a convex combination of the values.
   * It is the fallback when the expansion's certificate fails (needs degree ≥ 1 for μ; at degree 0
   * the centre stands in for μ).
   * @param e - Expansion index.
   * @param query - The query.
   * @param tau - Logit scale τ.
   * @param out - Receives the sums.
   * @returns `out`.
   */
  meanSums(e: number, query: Float32Array, tau: number, out: KernelSums): KernelSums {
    const d = this.basis.dim;
    const w = this.width;
    const base = e * this.basis.size * w;
    const n = this.tokens[e]!;
    const m = this.moments;
    const c = this.centres;
    let logit = 0;
    // Degree-1 key features are x_j = (k_j − c_j)/S with 1/α! = 1, so column 0 of monomial 1 + j
    // is Σ_i (k_ij − c_j)/S.
    const shift = this.basis.degree >= 1 && n > 0 ? this.scales[e]! / n : 0;
    for (let j = 0; j < d; j++) {
      const mu = c[e * d + j]! + (shift === 0 ? 0 : shift * m[base + (1 + j) * w]!);
      logit += query[j]! * mu;
    }
    out.m = n > 0 ? tau * logit : -Infinity;
    out.z = n;
    for (let j = 0; j < this.valueDim; j++) out.n[j] = m[base + j + 1]!;
    return out;
  }

  /** Empties every expansion (centres are kept; callers set them again). */
  clear(): void {
    this.moments.fill(0);
    this.centres.fill(0);
    this.radii.fill(0);
    this.scales.fill(1);
    this.tokens.fill(0);
  }
}

/**
 * Bytes of the state of `count` expansions ({@link MomentExpansions.state}): moments, centres,
 * radii, scales, token counts and the basis tables, without allocating them.
 *
 * @param d - Key dimension.
 * @param s - Value dimension.
 * @param g - Degree.
 * @param count - Number of expansions.
 * @returns The byte count (a float, so that huge sizes compare instead of overflowing).
 * @example
 * ```ts
 * import { expansionStateBytes } from '@kv/polynomial';
 * expansionStateBytes(64, 64, 1, 1); // 65·65·8 moments + centre, radii, scales, tokens + tables
 * ```
 */
export function expansionStateBytes(d: number, s: number, g: number, count: number): number {
  const size = monomialCount(d, g);
  return count * size * (s + 1) * 8 + count * d * 8 + 3 * count * 8 + size * 7 + (g + 2) * 4;
}

/**
 * Bytes a {@link MomentExpansions} of these sizes allocates (state, scratch and basis tables), without
 * allocating it: used to refuse configurations above the memory limit before building them.
 *
 * @param d - Key dimension.
 * @param s - Value dimension.
 * @param g - Degree.
 * @param count - Number of expansions.
 * @returns The byte count (a float, so that huge sizes compare instead of overflowing).
 * @example
 * ```ts
 * import { expansionBytes } from '@kv/polynomial';
 * expansionBytes(16, 16, 4, 1); // ≈ 4845·17·8 bytes of moments plus small tables
 * ```
 */
export function expansionBytes(d: number, s: number, g: number, count: number): number {
  const size = monomialCount(d, g);
  return (
    count * size * (s + 1) * 8 + // moments
    count * d * 8 + // centres
    3 * count * 8 + // radii, scales, tokens
    size * 8 + // key features scratch
    d * 8 + // difference scratch
    (g + 1) * 8 + // per-degree weights
    (s + 1) * 8 + // query accumulator
    size * 7 + // basis: parent (4), variable (2), exponent (1)
    (g + 2) * 4 // basis block starts
  );
}
