import {
  BaseHeadCache,
  type ByteCost,
  type CacheState,
  choiceParam,
  createKernelSums,
  dotUnit,
  floorBytes,
  integerParam,
  InvalidParamsError,
  type KernelSums,
  mergeSums,
  nrm2,
  numberParam,
  type ParamInfo,
  type PolicyDefinition,
  type PolicySpec,
  requireFits,
  Reservoir,
  Rng,
  SlotStore,
  type StateArray,
  type StateReader,
} from '@kv/core';
import { createFamily, type LshFamily } from '@kv/lsh';
import { expansionStateBytes, MomentExpansions, MonomialBasis, taylorRemainderBound } from '@kv/polynomial';

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
  { name: 'cells', type: 'integer', default: 16, description: 'Largest number of key cells (by default fewer when the budget holds fewer).' },
  { name: 'partition', type: 'string', default: 'centres', description: 'centres (online centres with a radius) | lsh (SimHash buckets).' },
  { name: 'radius', type: 'number', description: 'centres: a key joins the nearest centre within this distance (default 0.5/√τ).' },
  { name: 'degree', type: 'integer', default: 4, description: 'Multipole degree p of every cell (by default the largest even p ≤ 4 whose moments take at most half the budget).' },
  { name: 'samples', type: 'integer', default: 16, description: 'Reservoir rows kept per cell (near cells are answered from them); by default what the budget leaves.' },
  { name: 'threshold', type: 'number', default: 1e-3, description: 'A cell whose multipole remainder bound is ≤ this is answered by its expansion.' },
];

/** Bytes of the hash function of an `lsh` partition into `cells` cells (SimHash, Float32 directions). */
function hashBytes(d: number, cells: number): number {
  const bits = Math.max(1, Math.floor(Math.log2(cells)));
  return 2 ** bits * 4 + bits * d * 4;
}

/** Bytes one reservoir row holds: float32 key and value, Int32 position, and its Uint16 cell. */
const sampleRowBytes = (d: number, s: number): number => 4 * (d + s) + 4 + 2;

/**
 * Bytes a {@link CellsCache} of these sizes holds when every cell is open and full: moments,
 * centres, token counts and tables, reservoir rows with their cells, and the bucket table and hash
 * function of an `lsh` partition.
 */
function cellsBytes(d: number, s: number, cells: number, degree: number, samples: number, lsh = false): number {
  return expansionStateBytes(d, s, degree, cells) + cells * samples * sampleRowBytes(d, s) + (lsh ? hashBytes(d, cells) : 0);
}

/**
 * Cells, degree and samples for a byte limit: given ones are kept; a free degree is the largest even
 * p ≤ 4 whose moments take at most half of it, free cells are at most 16 (fewer if need be), free
 * samples take what is left (at least 1).
 */
function sizeCells(d: number, s: number, limit: number, given: { cells?: number; degree?: number; samples?: number }, lsh: boolean): { cells: number; degree: number; samples: number } {
  let cells = given.cells ?? 16;
  const fits = (c: number, g: number, m: number): boolean => cellsBytes(d, s, c, g, m, lsh) <= limit;
  let degree = given.degree ?? 4;
  if (given.degree === undefined) while (degree > 0 && cellsBytes(d, s, cells, degree, 0, lsh) > limit / 2) degree -= 2;
  if (given.cells === undefined) while (cells > 1 && !fits(cells, degree, given.samples ?? 1)) cells = Math.max(1, cells >> 1);
  let samples = given.samples ?? 16;
  if (given.samples === undefined && Number.isFinite(limit)) {
    samples = Math.max(1, Math.floor((limit - cellsBytes(d, s, cells, degree, 0, lsh)) / (cells * sampleRowBytes(d, s))));
  }
  return { cells, degree, samples };
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
 * - Memory: cells·C(d+p, p)·(s+1) Float64 moments + cells·samples rows, sized once from the smallest
 *   bytes of the budget (free parameters shrink to fit; explicit ones that do not fit are refused
 *   with `InvalidBudgetError` from `@kv/core`, naming the smallest budget that fits). `bytes` counts
 *   the cells opened and rows sampled so far.
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
  /** Every cell's reservoir rows in one store (one state part, whatever the number of cells). */
  private readonly rows: SlotStore;
  /** The cell of each slot (state). */
  private readonly slotCell: Uint16Array;
  /** Slots of cell c's reservoir entries j at c·samples + j (rebuilt from slotCell on load). */
  private readonly cellSlots: Int32Array;
  /** Reservoir rows cell c holds. */
  private readonly kept: Int32Array;
  private readonly rng: Rng;
  /** The generator's state once the hash function is drawn: where the reservoirs start. */
  private readonly freshRng: readonly number[];
  private readonly reservoirs: Reservoir[];
  private readonly bucketCell: Int32Array;
  private readonly family: LshFamily | null;
  private readonly familyArrays: StateArray[];
  private cellCount = 0;
  private uncertifiedCount = 0;
  private lastBound = 0;
  private readonly psi: Float64Array;
  private readonly partial: KernelSums;

  /**
   * @param spec - Spec with the params of {@link cellsParams}.
   * @throws `InvalidParamsError` (from `@kv/core`) for bad params; `InvalidBudgetError` (from
   *   `@kv/core`) when the budget cannot hold the configuration.
   */
  constructor(spec: PolicySpec) {
    super(spec);
    const p = spec.params;
    const d = this.keyDim;
    const s = this.valueDim;
    this.partition = choiceParam(p, 'partition', ['centres', 'lsh'] as const, 'centres');
    const given = {
      ...(p?.['cells'] !== undefined ? { cells: integerParam(p, 'cells', { min: 1, max: 4096 }) } : {}),
      ...(p?.['degree'] !== undefined ? { degree: integerParam(p, 'degree', { min: 0, max: 32 }) } : {}),
      ...(p?.['samples'] !== undefined ? { samples: integerParam(p, 'samples', { min: 1 }) } : {}),
    };
    const lsh = this.partition === 'lsh';
    const limit = Math.min(256 * 1024 * 1024, floorBytes(spec.budget, d, s));
    const size = sizeCells(d, s, limit, given, lsh);
    this.maxCells = size.cells;
    this.degree = size.degree;
    this.samples = size.samples;
    this.threshold = numberParam(p, 'threshold', { default: 1e-3, min: 0 });
    this.radius = numberParam(p, 'radius', { default: 0.5 / Math.sqrt(this.tau), min: 0 });
    const bytes = cellsBytes(d, s, this.maxCells, this.degree, this.samples, lsh);
    if (bytes > 256 * 1024 * 1024) throw new InvalidParamsError(`hybrid-cells needs ${bytes} bytes (moments of degree ${this.degree} at d = ${d}); lower cells or degree`);
    requireFits(spec.policy, spec.budget, { fixed: bytes, perRow: 0 }, d, s);
    this.rng = new Rng(spec.seed ?? 0);
    if (lsh) {
      const bits = Math.max(1, Math.floor(Math.log2(this.maxCells)));
      this.family = createFamily(d, { kind: 'simhash', hashes: bits }, this.rng);
      this.bucketCell = new Int32Array(this.family.buckets).fill(-1);
      this.familyArrays = this.family.buffers() as StateArray[];
    } else {
      this.family = null;
      this.bucketCell = new Int32Array(0);
      this.familyArrays = [];
    }
    this.freshRng = this.rng.getState();
    this.expansion = new MomentExpansions(new MonomialBasis(d, this.degree), this.maxCells, s);
    const slots = this.maxCells * this.samples;
    this.rows = new SlotStore(d, s, { maxSlots: slots, initialSlots: 0 });
    this.slotCell = new Uint16Array(slots);
    this.cellSlots = new Int32Array(slots);
    this.kept = new Int32Array(this.maxCells);
    this.reservoirs = [];
    for (let c = 0; c < this.maxCells; c++) this.reservoirs.push(new Reservoir(this.samples, this.rng));
    this.psi = new Float64Array(this.expansion.basis.size);
    this.partial = createKernelSums(s);
  }

  /** Token-equivalents of the held bytes. */
  get stored(): number {
    return this.seen === 0 ? 0 : Math.ceil(this.bytes / (4 * (this.keyDim + this.valueDim)));
  }

  /** Cells opened so far. */
  get cellsUsed(): number {
    return this.cellCount;
  }

  protected override byteCost(): ByteCost {
    return { fixed: cellsBytes(this.keyDim, this.valueDim, this.maxCells, this.degree, this.samples, this.partition === 'lsh'), perRow: 0 };
  }

  protected saveState(): CacheState {
    const parts: Record<string, CacheState> = { moments: this.expansion.state(this.cellCount), rows: this.rows.state() };
    const arrays: Record<string, StateArray> = { slotCell: this.slotCell.subarray(0, this.rows.count) };
    if (this.family) {
      arrays['bucketCell'] = this.bucketCell;
      this.familyArrays.forEach((a, i) => (arrays[`hash${i}`] = a));
    }
    return { scalars: { cells: this.cellCount, rng: this.rng.getState(), uncertified: this.uncertifiedCount }, arrays, parts };
  }

  protected restoreState(r: StateReader): void {
    const cells = r.integer('cells', 0, this.maxCells);
    this.expansion.loadState(r.part('moments'), cells);
    this.rows.loadState(r.part('rows'));
    const slotCell = r.array('slotCell', Uint16Array, this.rows.count);
    this.kept.fill(0);
    // A cell's entries were pushed in order and are only overwritten in place, so slot order is entry order.
    for (let slot = 0; slot < slotCell.length; slot++) {
      const c = slotCell[slot]!;
      if (c >= cells || this.kept[c]! >= this.samples) r.refuse(`array "slotCell" puts slot ${slot} in cell ${c}, which has no room`);
      this.cellSlots[c * this.samples + this.kept[c]!++] = slot;
    }
    for (let c = 0; c < cells; c++) {
      const tokens = this.expansion.tokens[c]!;
      if (this.kept[c] !== Math.min(tokens, this.samples)) r.refuse(`cell ${c} holds ${this.kept[c]} rows for ${tokens} tokens`);
      this.reservoirs[c]!.offered = tokens;
    }
    this.slotCell.set(slotCell);
    if (this.family) {
      this.bucketCell.set(r.array('bucketCell', Int32Array, this.bucketCell.length));
      this.familyArrays.forEach((want, i) => {
        const got: StateArray = r.array(`hash${i}`, want.constructor as Float64ArrayConstructor, want.length);
        for (let j = 0; j < want.length; j++) if (!Object.is(got[j], want[j])) r.refuse(`array "hash${i}" is not the hash function this spec draws`);
      });
    }
    this.rng.setState(r.numbers('rng'));
    this.uncertifiedCount = r.integer('uncertified', 0, Number.MAX_SAFE_INTEGER);
    this.cellCount = cells;
  }

  protected override describeSummary(): string {
    return `hybrid-cells: ${this.cellCount}/${this.maxCells} ${this.partition} cells of degree ${this.degree} with ${this.samples} samples each; last query expanded ${this.expandedCells}; ${this.uncertifiedCount} answers where unsampled tokens could matter`;
  }

  protected override describeStats(): Record<string, number | string | boolean> {
    return { cells: this.cellCount, maxCells: this.maxCells, degree: this.degree, samples: this.samples, expandedCells: this.expandedCells, uncertified: this.uncertifiedCount };
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
    const entry = this.reservoirs[c]!.offer();
    if (entry === this.kept[c]) {
      const slot = this.rows.push(key, 0, value, 0, position, 0);
      this.slotCell[slot] = c;
      this.cellSlots[c * this.samples + this.kept[c]!++] = slot;
    } else if (entry >= 0) this.rows.write(this.cellSlots[c * this.samples + entry]!, key, 0, value, 0, position, 0);
  }

  protected onSums(query: Float32Array, out: KernelSums): KernelSums {
    out.m = -Infinity;
    out.z = 0;
    out.n.fill(0);
    const e = this.expansion;
    const qn = nrm2(this.keyDim, query, 1, 0);
    let psiReady = false;
    let expanded = 0;
    let unsampled = -Infinity;
    for (let c = 0; c < this.cellCount; c++) {
      const count = e.tokens[c]!;
      if (count === 0) continue;
      const kept = this.kept[c]!;
      const bound = taylorRemainderBound(qn * e.radii[c]! * this.tau, this.degree);
      if (count > kept && bound <= this.threshold) {
        if (!psiReady) {
          e.queryFeatures(query, this.psi);
          psiReady = true;
        }
        e.evaluate(c, query, qn, this.psi, this.tau, this.partial);
        expanded++;
      } else {
        this.rows.sumsOf(query, this.tau, this.cellSlots, c * this.samples, kept, Math.log(count / kept), this.partial);
        if (count > kept) {
          // The unsampled tokens weigh at most (count − kept)·e^{<q,c>τ + ||q||·R_c·τ}.
          const logit = this.tau * dotUnit(this.keyDim, e.centres, c * this.keyDim, query, 0) + qn * e.radii[c]! * this.tau;
          const l = Math.log(count - kept) + logit;
          unsampled = unsampled > l ? unsampled + Math.log1p(Math.exp(l - unsampled)) : l + Math.log1p(Math.exp(unsampled - l));
        }
      }
      mergeSums(out, this.partial);
    }
    this.expandedCells = expanded;
    this.lastBound = Math.exp(unsampled - (out.m + Math.log(out.z)));
    if (!(this.lastBound <= 0.5)) this.uncertifiedCount++;
    return out;
  }

  /**
   * The certificate of the last answer from the sampled cells: an upper bound r on the weight of
   * their unsampled tokens relative to the answered Z (expanded cells carry their own remainder
   * bound, at most `threshold`). Only r ≤ 1/2 counts as certified.
   * @returns r (0 when no cell was sampled).
   */
  get lastSampleBound(): number {
    return this.lastBound;
  }

  /** Answers whose certificate r exceeded 1/2 (unsampled tokens could matter), so far. */
  get uncertified(): number {
    return this.uncertifiedCount;
  }

  protected onReset(): void {
    this.expansion.clear();
    this.rows.clear();
    this.kept.fill(0);
    for (const r of this.reservoirs) r.reset();
    this.rng.setState(this.freshRng);
    this.bucketCell.fill(-1);
    this.cellCount = 0;
    this.uncertifiedCount = 0;
    this.lastBound = 0;
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
