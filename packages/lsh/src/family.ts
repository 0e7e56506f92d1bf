import { dotUnit, type FloatArray, InvalidParamsError, type Rng } from '@kv/core';
import { crossPolytopeCollision, normalTail, sphericalFilterCollision } from './gaussian.js';

/**
 * A space partition: maps a vector of dimension `dim` to one of `buckets` cells. This is what a
 * hybrid policy needs to route keys to cells (`@kv/hybrid` reuses it).
 *
 * @example
 * ```ts
 * import { Rng } from '@kv/core';
 * import { SimHash, type Partitioner } from '@kv/lsh';
 * const p: Partitioner = new SimHash(64, 4, new Rng(1));
 * p.hash(new Float32Array(64).fill(1), 0); // a cell in [0, 16)
 * ```
 */
export interface Partitioner {
  /** Dimension of the vectors it partitions. */
  readonly dim: number;
  /** Number of cells; `hash` returns an integer in [0, buckets). */
  readonly buckets: number;
  /**
   * The cell of the vector stored at `vector[offset … offset + dim)`.
   * @param vector - Storage holding the vector.
   * @param offset - Index of its first element.
   * @returns The cell, an integer in [0, buckets).
   */
  hash(vector: FloatArray, offset: number): number;
}

/**
 * A locality-sensitive hash family on the unit sphere: one random function drawn at construction
 * (seeded), whose collision probability over that draw depends only on the angle of the two inputs.
 * All families here are invariant to positive scaling of their input, so keys and queries of any
 * norm are hashed by their direction.
 *
 * @example
 * ```ts
 * import { Rng } from '@kv/core';
 * import { SimHash } from '@kv/lsh';
 * const h = new SimHash(16, 8, new Rng(3));
 * h.collisionProbability(0.9); // (1 − arccos(0.9)/π)^8
 * ```
 */
export interface LshFamily extends Partitioner {
  /** Family name (`simhash`, `cross-polytope`, `spherical-filter`). */
  readonly name: string;
  /** Number of concatenated elementary hashes k (a collision needs all k to agree). */
  readonly concatenation: number;
  /**
   * Probability, over the random draw of the function, that two vectors of cosine `cosine` get
   * the same cell.
   * @param cosine - ⟨x, y⟩/(‖x‖‖y‖), clamped to [−1, 1].
   * @returns The probability in [0, 1].
   */
  collisionProbability(cosine: number): number;
  /**
   * Natural log of {@link LshFamily.collisionProbability}, accurate where the probability is tiny.
   * @param cosine - Cosine of the angle.
   * @returns ln p (−Infinity when p = 0).
   */
  logCollisionProbability(cosine: number): number;
  /** The typed arrays holding the drawn function (counted in a cache's bytes). */
  buffers(): readonly ArrayBufferView[];
}

const MAX_BUCKETS = 2 ** 31;

function clampCosine(c: number): number {
  return c > 1 ? 1 : c < -1 ? -1 : Number.isNaN(c) ? 0 : c;
}

function checkShape(name: string, dim: number, k: number, base: number): number {
  if (!Number.isInteger(dim) || dim < 1) throw new InvalidParamsError(`${name}: dimension ${dim}, expected an integer >= 1`);
  if (!Number.isInteger(k) || k < 1) throw new InvalidParamsError(`${name}: ${k} hashes, expected an integer >= 1`);
  const buckets = base ** k;
  if (buckets > MAX_BUCKETS) {
    throw new InvalidParamsError(`${name}: ${base}^${k} cells exceed 2^31; use fewer concatenated hashes`);
  }
  return buckets;
}

/**
 * SimHash (random hyperplanes): k sign bits sign⟨a_b, x⟩ of Gaussian directions a_b.
 *
 * @remarks Exact collision probability (1 − θ/π)^k for inputs at angle θ (Goemans–Williamson).
 *   Hashing costs k·d multiply-adds; 2^k cells.
 * @see Charikar, "Similarity Estimation Techniques from Rounding Algorithms", STOC 2002.
 * @example
 * ```ts
 * import { Rng } from '@kv/core';
 * import { SimHash } from '@kv/lsh';
 * const h = new SimHash(4, 2, new Rng(0));
 * h.hash(new Float32Array([1, 0, 0, 0]), 0); // in [0, 4)
 * ```
 */
export class SimHash implements LshFamily {
  /** `"simhash"`. */
  readonly name = 'simhash';
  /** Dimension d. */
  readonly dim: number;
  /** Bits k. */
  readonly concatenation: number;
  /** 2^k. */
  readonly buckets: number;
  /** Row-major k×d Gaussian directions. */
  readonly planes: Float32Array;

  /**
   * @param dim - Dimension d.
   * @param bits - Number of bits k (1 … 30).
   * @param rng - Source of the random directions.
   * @throws `InvalidParamsError` for a bad dimension or k.
   */
  constructor(dim: number, bits: number, rng: Rng) {
    this.buckets = checkShape('simhash', dim, bits, 2);
    this.dim = dim;
    this.concatenation = bits;
    this.planes = rng.fillGaussian(new Float32Array(bits * dim));
  }

  /**
   * @param vector - Storage holding the vector.
   * @param offset - Index of its first element.
   * @returns The k sign bits as an integer.
   */
  hash(vector: FloatArray, offset: number): number {
    const d = this.dim;
    let id = 0;
    for (let b = 0; b < this.concatenation; b++) {
      id = id * 2 + (dotUnit(d, this.planes, b * d, vector, offset) >= 0 ? 1 : 0);
    }
    return id;
  }

  /**
   * @param cosine - Cosine of the angle.
   * @returns (1 − arccos(c)/π)^k.
   */
  collisionProbability(cosine: number): number {
    return (1 - Math.acos(clampCosine(cosine)) / Math.PI) ** this.concatenation;
  }

  /**
   * @param cosine - Cosine of the angle.
   * @returns k·ln(1 − arccos(c)/π).
   */
  logCollisionProbability(cosine: number): number {
    return this.concatenation * Math.log(1 - Math.acos(clampCosine(cosine)) / Math.PI);
  }

  /** @returns The direction matrix. */
  buffers(): readonly ArrayBufferView[] {
    return [this.planes];
  }
}

const GRID = 96;
const THETA_MAX = 0.97 * Math.PI;
const tableCache = new Map<string, Float64Array>();

/**
 * ln p₁ on a grid uniform in the angle θ ∈ [0, 0.97π], memoised per family shape; interpolated
 * linearly in θ. Past 0.97π (cosine below −0.9956) the value at 0.97π is used: an over-estimate of p.
 */
function collisionTable(key: string, p1: (c: number) => number): Float64Array {
  const cached = tableCache.get(key);
  if (cached) return cached;
  const table = new Float64Array(GRID + 1);
  for (let i = 0; i <= GRID; i++) table[i] = Math.log(Math.max(1e-300, p1(Math.cos((THETA_MAX * i) / GRID))));
  table[0] = 0;
  tableCache.set(key, table);
  return table;
}

function interpolate(table: Float64Array, cosine: number): number {
  const t = (Math.acos(clampCosine(cosine)) / THETA_MAX) * GRID;
  if (t >= GRID) return table[GRID]!;
  const i = Math.floor(t);
  const f = t - i;
  return table[i]! * (1 - f) + table[i + 1]! * f;
}

/**
 * Cross-polytope LSH: each of k elementary hashes multiplies x by an m×d Gaussian matrix G and
 * returns the signed index of the largest |(Gx)_i| (2m cells); k of them are concatenated.
 *
 * @remarks The collision probability is computed exactly (by quadrature, see
 *   {@link crossPolytopeCollision}) for the Gaussian matrix actually used, tabulated on 97 angles
 *   and interpolated in log space (absolute error about 1e-3 for cosines in [−0.99, 0.98]).
 *   A Gaussian matrix stands in for the random rotation of the paper; its m row products are
 *   exactly i.i.d. so the formula holds for any m (including m ≠ d). Hashing costs k·m·d.
 * @see Andoni, Indyk, Laarhoven, Razenshteyn, Schmidt, NeurIPS 2015 (arXiv 1509.02897).
 * @example
 * ```ts
 * import { Rng } from '@kv/core';
 * import { CrossPolytope } from '@kv/lsh';
 * const h = new CrossPolytope(16, 1, new Rng(0), 16);
 * h.buckets; // 32
 * ```
 */
export class CrossPolytope implements LshFamily {
  /** `"cross-polytope"`. */
  readonly name = 'cross-polytope';
  /** Dimension d. */
  readonly dim: number;
  /** Concatenated elementary hashes k. */
  readonly concatenation: number;
  /** Rows m of each Gaussian matrix. */
  readonly rows: number;
  /** (2m)^k. */
  readonly buckets: number;
  /** k stacked row-major m×d Gaussian matrices. */
  readonly matrices: Float32Array;
  private readonly table: Float64Array;

  /**
   * @param dim - Dimension d.
   * @param hashes - Concatenated elementary hashes k.
   * @param rng - Source of the Gaussian matrices.
   * @param rows - Rows m per matrix (default d, capped at 256).
   * @throws `InvalidParamsError` for bad shapes or more than 2^31 cells.
   */
  constructor(dim: number, hashes: number, rng: Rng, rows = Math.min(dim, 256)) {
    if (!Number.isInteger(rows) || rows < 1 || rows > 1024) {
      throw new InvalidParamsError(`cross-polytope: ${rows} rows, expected an integer in [1, 1024]`);
    }
    this.buckets = checkShape('cross-polytope', dim, hashes, 2 * rows);
    this.dim = dim;
    this.concatenation = hashes;
    this.rows = rows;
    this.matrices = rng.fillGaussian(new Float32Array(hashes * rows * dim));
    this.table = collisionTable(`cp:${rows}`, (c) => crossPolytopeCollision(c, rows));
  }

  /**
   * @param vector - Storage holding the vector.
   * @param offset - Index of its first element.
   * @returns The concatenated signed argmax indices.
   */
  hash(vector: FloatArray, offset: number): number {
    const d = this.dim;
    const m = this.rows;
    let id = 0;
    for (let b = 0; b < this.concatenation; b++) {
      let best = -1;
      let bestAbs = -1;
      for (let r = 0; r < m; r++) {
        const p = dotUnit(d, this.matrices, (b * m + r) * d, vector, offset);
        const a = Math.abs(p);
        if (a > bestAbs) {
          bestAbs = a;
          best = 2 * r + (p < 0 ? 1 : 0);
        }
      }
      id = id * 2 * m + best;
    }
    return id;
  }

  /**
   * @param cosine - Cosine of the angle.
   * @returns p₁(c)^k from the quadrature table.
   */
  collisionProbability(cosine: number): number {
    return Math.exp(this.logCollisionProbability(cosine));
  }

  /**
   * @param cosine - Cosine of the angle.
   * @returns k·ln p₁(c).
   */
  logCollisionProbability(cosine: number): number {
    return this.concatenation * interpolate(this.table, cosine);
  }

  /** @returns The Gaussian matrices. */
  buffers(): readonly ArrayBufferView[] {
    return [this.matrices];
  }
}

/**
 * Spherical filters: each of k elementary hashes draws F Gaussian directions g_1…g_F and returns
 * the first i with ⟨g_i, x⟩ ≥ η‖x‖ (or F when none passes: F + 1 cells); k are concatenated.
 * The threshold η tunes selectivity: a filter admits a Φ̄(η) fraction of the sphere.
 *
 * @remarks Collision probability from the Gaussian tail of the correlated pair (exact up to
 *   quadrature, see {@link sphericalFilterCollision}), tabulated on 97 angles and interpolated in
 *   log space. Choose F ≫ 1/Φ̄(η) so few vectors overflow. Hashing costs about d/Φ̄(η) per hash.
 * @see Andoni, Laarhoven, Razenshteyn, Waingarten, SODA 2017 (arXiv 1608.03580).
 * @example
 * ```ts
 * import { Rng } from '@kv/core';
 * import { SphericalFilter } from '@kv/lsh';
 * const h = new SphericalFilter(16, 1, new Rng(0), 1.5, 64);
 * h.buckets; // 65
 * ```
 */
export class SphericalFilter implements LshFamily {
  /** `"spherical-filter"`. */
  readonly name = 'spherical-filter';
  /** Dimension d. */
  readonly dim: number;
  /** Concatenated elementary hashes k. */
  readonly concatenation: number;
  /** Threshold η. */
  readonly threshold: number;
  /** Filters F per elementary hash. */
  readonly filters: number;
  /** (F + 1)^k. */
  readonly buckets: number;
  /** k stacked row-major F×d filter directions. */
  readonly directions: Float32Array;
  private readonly table: Float64Array;

  /**
   * @param dim - Dimension d.
   * @param hashes - Concatenated elementary hashes k.
   * @param rng - Source of the filter directions.
   * @param threshold - η in [0, 6] (default 1).
   * @param filters - F per hash (default ⌈8/Φ̄(η)⌉ capped at 4096).
   * @throws `InvalidParamsError` for bad shapes, η or F.
   */
  constructor(dim: number, hashes: number, rng: Rng, threshold = 1, filters?: number) {
    if (!Number.isFinite(threshold) || threshold < 0 || threshold > 6) {
      throw new InvalidParamsError(`spherical-filter: threshold ${threshold}, expected a number in [0, 6]`);
    }
    const f = filters ?? Math.min(4096, Math.ceil(8 / normalTail(threshold)));
    if (!Number.isInteger(f) || f < 1 || f > 65536) {
      throw new InvalidParamsError(`spherical-filter: ${f} filters, expected an integer in [1, 65536]`);
    }
    this.buckets = checkShape('spherical-filter', dim, hashes, f + 1);
    this.dim = dim;
    this.concatenation = hashes;
    this.threshold = threshold;
    this.filters = f;
    this.directions = rng.fillGaussian(new Float32Array(hashes * f * dim));
    this.table = collisionTable(`sf:${threshold}:${f}`, (c) => sphericalFilterCollision(c, threshold, f));
  }

  /**
   * @param vector - Storage holding the vector.
   * @param offset - Index of its first element.
   * @returns The concatenated first-passing filter indices.
   */
  hash(vector: FloatArray, offset: number): number {
    const d = this.dim;
    const F = this.filters;
    const bar = this.threshold * Math.sqrt(dotUnit(d, vector, offset, vector, offset));
    let id = 0;
    for (let b = 0; b < this.concatenation; b++) {
      let cell = F;
      for (let i = 0; i < F; i++) {
        if (dotUnit(d, this.directions, (b * F + i) * d, vector, offset) >= bar) {
          cell = i;
          break;
        }
      }
      id = id * (F + 1) + cell;
    }
    return id;
  }

  /**
   * @param cosine - Cosine of the angle.
   * @returns p₁(c)^k from the Gaussian-tail table.
   */
  collisionProbability(cosine: number): number {
    return Math.exp(this.logCollisionProbability(cosine));
  }

  /**
   * @param cosine - Cosine of the angle.
   * @returns k·ln p₁(c).
   */
  logCollisionProbability(cosine: number): number {
    return this.concatenation * interpolate(this.table, cosine);
  }

  /** @returns The filter directions. */
  buffers(): readonly ArrayBufferView[] {
    return [this.directions];
  }
}

/**
 * Which family, and its shape, for {@link createFamily} and the policies' params.
 *
 * @example
 * ```ts
 * import { Rng } from '@kv/core';
 * import { createFamily, type FamilyOptions } from '@kv/lsh';
 * const options: FamilyOptions = { kind: 'spherical-filter', hashes: 1, threshold: 1.5 };
 * const h = createFamily(32, options, new Rng(7));
 * ```
 */
export interface FamilyOptions {
  /** Family kind. */
  readonly kind: 'simhash' | 'cross-polytope' | 'spherical-filter';
  /** Concatenated elementary hashes k (bits for SimHash). */
  readonly hashes: number;
  /** Cross-polytope rows m (default min(d, 256)). */
  readonly rows?: number;
  /** Spherical-filter threshold η (default 1). */
  readonly threshold?: number;
  /** Spherical-filter count F (default ⌈8/Φ̄(η)⌉). */
  readonly filters?: number;
}

/**
 * Draws one function of the chosen family.
 *
 * @param dim - Dimension d.
 * @param options - Family kind and shape.
 * @param rng - Source of randomness (consumed).
 * @returns The drawn function.
 * @throws `InvalidParamsError` for bad shapes.
 * @example
 * ```ts
 * import { Rng } from '@kv/core';
 * import { createFamily } from '@kv/lsh';
 * const h = createFamily(64, { kind: 'cross-polytope', hashes: 1 }, new Rng(2));
 * ```
 */
export function createFamily(dim: number, options: FamilyOptions, rng: Rng): LshFamily {
  switch (options.kind) {
    case 'simhash':
      return new SimHash(dim, options.hashes, rng);
    case 'cross-polytope':
      return new CrossPolytope(dim, options.hashes, rng, options.rows);
    case 'spherical-filter':
      return new SphericalFilter(dim, options.hashes, rng, options.threshold, options.filters);
    default:
      throw new InvalidParamsError(`unknown LSH family ${JSON.stringify((options as { kind: unknown }).kind)}`);
  }
}
