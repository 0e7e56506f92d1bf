import {
  BaseHeadCache,
  choiceParam,
  createKernelSums,
  integerParam,
  InvalidBudgetError,
  InvalidParamsError,
  type KernelSums,
  mergeSums,
  nrm2,
  numberParam,
  type ParamInfo,
  type PolicyDefinition,
  type PolicySpec,
  Reservoir,
  Rng,
  SlotStore,
} from '@kv/core';
import { createFamily, type LshFamily } from '@kv/lsh';
import { expansionBytes, MomentExpansions, MonomialBasis, monomialCount, taylorRemainderBound } from '@kv/polynomial';

/**
 * Parameters of the `hybrid-cells` policy.
 *
 * @example
 * ```ts
 * import { cellsParams } from '@kv/hybrid';
 * cellsParams.find((p) => p.name === 'degree')?.default; // 4
 * ```
 */
export const cellsParams: readonly ParamInfo[] = [
  { name: 'cells', type: 'integer', default: 16, description: 'Largest number of key cells.' },
  { name: 'partition', type: 'string', default: 'centres', description: 'centres (online centres with a radius) | lsh (SimHash buckets).' },
  { name: 'radius', type: 'number', description: 'centres: a key joins the nearest centre within this distance (default 0.5/√τ).' },
  { name: 'degree', type: 'integer', default: 4, description: 'Multipole degree p of every cell.' },
  { name: 'samples', type: 'integer', default: 16, description: 'Reservoir rows kept per cell (near cells are answered from them).' },
  { name: 'threshold', type: 'number', default: 1e-3, description: 'A cell whose multipole remainder bound is ≤ this is answered by its expansion.' },
];

/**
 * Bytes a {@link CellsCache} of these sizes holds (moments, scratch, reservoirs).
 * @param d - Key dimension.
 * @param s - Value dimension.
 * @param cells - Cells.
 * @param degree - Multipole degree.
 * @param samples - Reservoir rows per cell.
 * @returns The byte count.
 */
function cellsBytes(d: number, s: number, cells: number, degree: number, samples: number, lsh = false): number {
  const bits = Math.max(1, Math.floor(Math.log2(cells)));
  const hashing = lsh ? 2 ** bits * 4 + bits * d * 4 : 0;
  return expansionBytes(d, s, degree, cells) + monomialCount(d, degree) * 8 + cells * samples * (4 * (d + s) + 4) + cells * 8 + hashing;
}

/**
 * The low-temperature construction, a documented **heuristic** (no theorem is claimed): keys are
 * partitioned into cells (online centres with a radius, or SimHash buckets from `@kv/lsh`); each
 * cell keeps degree-p multipole moments of (k − c) about its centre c (`MomentExpansions` from
 * `@kv/polynomial`) and a uniform reservoir of `samples` of its tokens. For a query, a cell whose
 * multipole remainder bound (||q||·R_c·τ)^{p+1}/(p+1)!·e^{||q||R_cτ} (R_c its radius) is at most
 * `threshold` is answered by its expansion; the others by their reservoir (exactly, while the cell
 * holds at most `samples` tokens; else with weight n_c/samples as a logit bias). The parts merge by
 * log-sum-exp.
 *
 * @remarks
 * - Why: at low temperature (large ρ) a global Taylor expansion needs a huge degree, but a small
 *   cell far from the query's heavy keys is expanded accurately at low degree (algorithms.md §4,
 *   multipole form), while near cells carry the mass and are kept as samples.
 * - A cell expanded by its bound is within that relative bound of its exact kernel sums; the
 *   reservoir cells are unbiased in expectation over the reservoir; the whole is **not** bounded.
 * - Memory is fixed at construction: cells·C(d+p, p)·(s+1) Float64 moments + cells·samples rows,
 *   preallocated, so `stored` is constant; a token budget below it is refused with
 *   `InvalidBudgetError` (from `@kv/core`).
 * - {@link CellsCache.expandedCells} reports how many cells the last query answered by expansion.
 * @see Greengard & Rokhlin, "A fast algorithm for particle simulations", J. Comput. Phys. 1987.
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { cellsPolicy } from '@kv/hybrid';
 * const registry = new PolicyRegistry().register(cellsPolicy);
 * const cache = registry.create({ policy: 'hybrid-cells', keyDim: 8, valueDim: 8, params: { cells: 8, degree: 2, samples: 16 } });
 * ```
 */
export class CellsCache extends BaseHeadCache {
  /** Largest number of cells. */
  readonly maxCells: number;
  /** Multipole degree p. */
  readonly degree: number;
  /** Reservoir rows per cell. */
  readonly samples: number;
  /** Remainder-bound threshold below which a cell is expanded. */
  readonly threshold: number;
  /** Partition rule. */
  readonly partition: 'centres' | 'lsh';
  /** Joining radius of the `centres` partition. */
  readonly radius: number;
  /** Cells answered by expansion in the last query. */
  expandedCells = 0;
  private readonly expansion: MomentExpansions;
  private readonly stores: SlotStore[];
  private reservoirs: Reservoir[];
  private readonly counts: Float64Array;
  private readonly bucketCell: Int32Array;
  private readonly family: LshFamily | null;
  private cellCount = 0;
  private readonly psi: Float64Array;
  private readonly partial: KernelSums;

  /**
   * @param spec - Spec with the params of {@link cellsParams}.
   * @throws `InvalidParamsError` (from `@kv/core`) for bad params; `InvalidBudgetError` (from
   *   `@kv/core`) for a ratio budget or a token budget below the fixed size.
   */
  constructor(spec: PolicySpec) {
    super(spec);
    const p = spec.params;
    const d = this.keyDim;
    const s = this.valueDim;
    this.partition = choiceParam(p, 'partition', ['centres', 'lsh'] as const, 'centres');
    this.maxCells = integerParam(p, 'cells', { default: 16, min: 1, max: 4096 });
    this.degree = integerParam(p, 'degree', { default: 4, min: 0, max: 32 });
    this.samples = integerParam(p, 'samples', { default: 16, min: 1 });
    this.threshold = numberParam(p, 'threshold', { default: 1e-3, min: 0 });
    this.radius = numberParam(p, 'radius', { default: 0.5 / Math.sqrt(this.tau), min: 0 });
    const bytes = cellsBytes(d, s, this.maxCells, this.degree, this.samples, this.partition === 'lsh');
    if (bytes > 256 * 1024 * 1024) throw new InvalidParamsError(`hybrid-cells needs ${bytes} bytes (moments of degree ${this.degree} at d = ${d}); lower cells or degree`);
    let tokens: number | undefined;
    if (spec.budget !== undefined) {
      const b = spec.budget;
      tokens = typeof b === 'number' ? b : 'tokens' in b ? b.tokens : undefined;
      if (tokens === undefined) throw new InvalidBudgetError('hybrid-cells has a fixed size and needs a token budget, got a ratio');
      const need = Math.ceil(bytes / (4 * (d + s)));
      if (need > tokens) throw new InvalidBudgetError(`hybrid-cells holds ${need} token-equivalents, above the budget ${tokens}; lower cells, degree or samples`);
    }
    const rng = new Rng(spec.seed ?? 0);
    if (this.partition === 'lsh') {
      const bits = Math.max(1, Math.floor(Math.log2(this.maxCells)));
      this.family = createFamily(d, { kind: 'simhash', hashes: bits }, rng);
      this.bucketCell = new Int32Array(this.family.buckets).fill(-1);
    } else {
      this.family = null;
      this.bucketCell = new Int32Array(0);
    }
    this.expansion = new MomentExpansions(new MonomialBasis(d, this.degree), this.maxCells, s);
    this.stores = [];
    for (let c = 0; c < this.maxCells; c++) this.stores.push(new SlotStore(d, s, { maxSlots: this.samples, initialSlots: this.samples }));
    this.reservoirs = this.freshReservoirs();
    this.counts = new Float64Array(this.maxCells);
    this.psi = new Float64Array(this.expansion.basis.size);
    this.partial = createKernelSums(s);
    const held = Math.ceil(this.bytes / (4 * (d + s)));
    if (tokens !== undefined && held > tokens) {
      throw new InvalidBudgetError(`hybrid-cells holds ${held} token-equivalents, above the budget ${tokens}; lower cells, degree or samples`);
    }
  }

  private freshReservoirs(): Reservoir[] {
    const rng = new Rng((this.spec.seed ?? 0) + 1);
    const out: Reservoir[] = [];
    for (let c = 0; c < this.maxCells; c++) out.push(new Reservoir(this.samples, rng));
    return out;
  }

  /** Token-equivalents of the (fixed) held bytes. */
  get stored(): number {
    return this.seen === 0 ? 0 : Math.ceil(this.bytes / (4 * (this.keyDim + this.valueDim)));
  }

  /** Cells opened so far. */
  get cellsUsed(): number {
    return this.cellCount;
  }

  /**
   * Held arrays: moments, centres, scratch, reservoirs, counts and the hash function.
   * @returns The arrays.
   */
  buffers(): readonly ArrayBufferView[] {
    const b: ArrayBufferView[] = [...this.expansion.buffers(), this.psi, this.counts, this.bucketCell];
    for (const st of this.stores) b.push(...st.buffers());
    if (this.family) b.push(...this.family.buffers());
    return b;
  }

  /**
   * A one-line description of the configuration.
   * @returns For example `hybrid-cells(centres, cells=16, p=4, samples=16)`.
   */
  describe(): string {
    return `hybrid-cells(${this.partition}, cells=${this.maxCells}, p=${this.degree}, samples=${this.samples}, threshold=${this.threshold})`;
  }

  private cellOf(key: Float32Array): number {
    const e = this.expansion;
    if (this.family) {
      const bucket = this.family.hash(key, 0);
      let c = this.bucketCell[bucket]!;
      if (c < 0) {
        if (this.cellCount < this.maxCells) {
          c = this.cellCount++;
          e.setCentre(c, key);
        } else c = this.nearest(key);
        this.bucketCell[bucket] = c;
      }
      return c;
    }
    if (this.cellCount === 0) {
      e.setCentre(0, key);
      this.cellCount = 1;
      return 0;
    }
    const c = this.nearest(key);
    if (Math.sqrt(e.distanceSquared(c, key)) <= this.radius || this.cellCount === this.maxCells) return c;
    const fresh = this.cellCount++;
    e.setCentre(fresh, key);
    return fresh;
  }

  private nearest(key: Float32Array): number {
    let best = 0;
    let bestD = Infinity;
    for (let c = 0; c < this.cellCount; c++) {
      const dist = this.expansion.distanceSquared(c, key);
      if (dist < bestD) {
        bestD = dist;
        best = c;
      }
    }
    return best;
  }

  protected onAppend(key: Float32Array, value: Float32Array, position: number): void {
    const c = this.cellOf(key);
    this.expansion.add(c, key, value);
    this.counts[c]!++;
    const slot = this.reservoirs[c]!.offer();
    const store = this.stores[c]!;
    if (slot === store.count) store.push(key, 0, value, 0, position, 0);
    else if (slot >= 0) store.write(slot, key, 0, value, 0, position, 0);
  }

  protected onSums(query: Float32Array, out: KernelSums): KernelSums {
    out.m = -Infinity;
    out.z = 0;
    out.n.fill(0);
    const e = this.expansion;
    const qn = nrm2(this.keyDim, query, 1, 0);
    let psiReady = false;
    let expanded = 0;
    for (let c = 0; c < this.cellCount; c++) {
      const count = this.counts[c]!;
      if (count === 0) continue;
      const store = this.stores[c]!;
      const bound = taylorRemainderBound(qn * e.radii[c]! * this.tau, this.degree);
      if (count > store.count && bound <= this.threshold) {
        if (!psiReady) {
          e.queryFeatures(query, this.psi);
          psiReady = true;
        }
        e.evaluate(c, query, qn, this.psi, this.tau, this.partial);
        expanded++;
      } else {
        store.sums(query, this.tau, this.partial);
        this.partial.m += Math.log(count / store.count);
      }
      mergeSums(out, this.partial);
    }
    this.expandedCells = expanded;
    return out;
  }

  protected onReset(): void {
    this.expansion.clear();
    for (const st of this.stores) st.clear();
    this.reservoirs = this.freshReservoirs();
    this.counts.fill(0);
    this.bucketCell.fill(-1);
    this.cellCount = 0;
  }
}

/**
 * Bytes of a `hybrid-cells` configuration, without building it (for choosing parameters).
 *
 * @param d - Key dimension.
 * @param s - Value dimension.
 * @param cells - Cells.
 * @param degree - Multipole degree.
 * @param samples - Reservoir rows per cell.
 * @returns The byte count.
 * @example
 * ```ts
 * import { cellsMemory } from '@kv/hybrid';
 * cellsMemory(8, 8, 16, 2, 16);
 * ```
 */
export function cellsMemory(d: number, s: number, cells: number, degree: number, samples: number): number {
  return cellsBytes(d, s, cells, degree, samples);
}

/**
 * Registry entry of {@link CellsCache} (`"hybrid-cells"`).
 *
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { cellsPolicy } from '@kv/hybrid';
 * new PolicyRegistry().register(cellsPolicy);
 * ```
 */
export const cellsPolicy: PolicyDefinition = {
  name: 'hybrid-cells',
  summary: 'Low temperature (heuristic, no theorem): key cells, far cells by multipole expansion, near cells by a per-cell reservoir.',
  params: cellsParams,
  budget: 'optional',
  create: (spec) => new CellsCache(spec),
};
