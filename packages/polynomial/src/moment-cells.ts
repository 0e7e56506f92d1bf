import {
  BaseHeadCache,
  type ByteCost,
  type CacheState,
  type KernelSums,
  nrm2,
  type ParamInfo,
  parsePrecision,
  precisionParam,
  requireFits,
  type PolicyDefinition,
  type PolicySpec,
  SlotStore,
  type StateReader,
} from '@kv/core';

/**
 * Parameters of the `moment-cells` policy: the precision its cells are stored at (they are sized by
 * the budget).
 * @example
 * ```ts
 * import { momentCellsParams } from '@kv/polynomial';
 * momentCellsParams.map((p) => p.name); // ['precision']
 * ```
 */
export const momentCellsParams: readonly ParamInfo[] = [precisionParam];

/** Tokens between two full recomputations of the nearest-cell table (the query metric drifts). */
const REFRESH = 64;

/** The remainder bound at or below which an answer counts as certified. */
const CERTIFIED = 0.5;

/** Bytes a cell holds beside its store row: count, radius, spread, nearest cell and its cost. */
const CELL_EXTRA = 20;

/**
 * Degree-0 moment cells: the tokens a cache evicts are merged into at most `capacity` key cells,
 * each kept as its degree-0 moments about its key mean μ_c (the count n_c, the mean key and the
 * mean value) — a cell answers n_c·e^{<q,μ_c>τ}·[1, v̄_c], a token of weight n_c at the mean.
 * This is how D2O and CaM merge evicted tokens, with the merge chosen by a cost instead of by
 * position: a new token joins its nearest cell, or, when the two closest cells are closer, those
 * two merge and the token opens a cell of its own (streaming Ward clustering).
 *
 * @remarks
 * - **Cost.** Merging cells a and b changes the logits of their n_a + n_b tokens; the increase of
 *   their summed squared logit deviation from the cell mean (Ward's criterion) is
 *   n_a·n_b/(n_a+n_b)·(μ_a − μ_b)ᵀM(μ_a − μ_b) with M = τ²·diag(E[q_j²]) over the queries seen so
 *   far (τ² before the first query). Each cell keeps its nearest other cell and that cost, updated
 *   when a cell changes and refreshed every 64 tokens (the query metric drifts).
 * - **Second-order correction.** Each cell also keeps its spread S_c, the summed squared logit
 *   deviation of its tokens (Ward's identity: spreads add up with the merge costs), and answers with
 *   log-weight ln n_c + S_c/(2n_c): E[e^X] = e^{E[X] + Var[X]/2} for Gaussian deviations, which
 *   removes most of the Jensen bias of the mean token (measured on real attention: geometric mean
 *   error 0.087 → 0.066 at 1/8 of the float32 bytes).
 * - **Remainder bound.** Cell c has a radius bound R_c ≥ max ||k − μ_c|| over its tokens (tracked
 *   through merges by the triangle inequality). With a = <q,μ_c>τ and ρ_c = ||q||·R_c·τ, the cell's
 *   exact Z_c lies in [n_c·e^{a}, n_c·e^{a + ρ_c}] (Jensen below, the degree-0 Taylor remainder
 *   above), and its estimate n_c·e^{a + b_c} with b_c = S_c/(2n_c) is within relative error
 *   e^{max(ρ_c, b_c)} − 1 of it. {@link MomentCellsCache.lastBound} reports the largest such bound
 *   of the last query (over cells of more than one token), which therefore bounds |Ẑ/Z − 1| for
 *   the whole cache. On real attention it is far above 1: the cells are a heuristic there, judged
 *   by measurement. Answers whose bound exceeds 1/2 are counted (`uncertified` in `describe()`).
 * - **Budget.** A cell costs its float32 mean key and mean value, a float32 log-weight, count and
 *   radius, and its nearest-cell entry; the cache holds at most `capacity` cells for the budget at
 *   each step (a `{fraction}` budget lets the count grow), plus, once it holds a cell, d float64
 *   query statistics. Tokens that arrive while the budget holds no cell are dropped (counted in
 *   `describe()`).
 * - Meant as the middle of `tiered` (`@kv/hybrid`): it answers every query, so it learns the metric.
 * @see Wan et al., "D2O: Dynamic Discriminative Operations for Efficient Generative Inference of
 *   Large Language Models", arXiv 2406.13035 (merging evicted tokens).
 * @see Zhang et al., "CaM: Cache Merging for Memory-efficient LLMs Inference", ICML 2024.
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { momentCellsPolicy } from '@kv/polynomial';
 * const cache = new PolicyRegistry().register(momentCellsPolicy)
 *   .create({ policy: 'moment-cells', keyDim: 8, valueDim: 8, budget: { bytes: 4096 } });
 * ```
 */
export class MomentCellsCache extends BaseHeadCache {
  /** Cells: key = mean key, value = mean value, log-weight = ln(count). */
  private readonly cells: SlotStore;
  private counts: Float32Array;
  private radii: Float32Array;
  private spread: Float32Array;
  private nearest: Int32Array;
  private nearestCost: Float32Array;
  private readonly querySquares: Float64Array;
  private queries = 0;
  private sinceRefresh = 0;
  private dropped = 0;
  private bound = 0;
  private uncertifiedCount = 0;
  // Scratch: the arriving token, a merge target, a merge source, and a cell read for a cost.
  private readonly tokenKey: Float64Array;
  private readonly tokenValue: Float64Array;
  private readonly a: Float64Array;
  private readonly value: Float64Array;
  private readonly sourceKey: Float64Array;
  private readonly sourceValue: Float64Array;
  private readonly other: Float64Array;
  private readonly row: Float32Array;
  private readonly rowValue: Float32Array;

  /**
   * @param spec - A validated spec (sized by its budget; `params.precision` of the cells).
   * @throws `InvalidParamsError` on a bad precision; `InvalidBudgetError` when the budget cannot hold the rotation signs of that precision.
   */
  constructor(spec: PolicySpec) {
    super(spec);
    const d = this.keyDim;
    const s = this.valueDim;
    const precision = parsePrecision(spec.params?.['precision'], 'moment-cells params.precision');
    this.cells = new SlotStore(d, s, { weighted: true, positions: false, initialSlots: 0, precision, seed: spec.seed ?? 0 });
    this.cells.limit = 0;
    // Rotation signs are held from the start, so they must fit the smallest bytes of the budget.
    requireFits(spec.policy, spec.budget, { fixed: this.cells.fixedBytes, perRow: 0 }, d, s);
    this.counts = new Float32Array(16);
    this.radii = new Float32Array(16);
    this.spread = new Float32Array(16);
    this.nearest = new Int32Array(16);
    this.nearestCost = new Float32Array(16);
    this.querySquares = new Float64Array(d);
    this.tokenKey = new Float64Array(d);
    this.tokenValue = new Float64Array(s);
    this.a = new Float64Array(d);
    this.value = new Float64Array(s);
    this.sourceKey = new Float64Array(d);
    this.sourceValue = new Float64Array(s);
    this.other = new Float64Array(d);
    this.row = new Float32Array(d);
    this.rowValue = new Float32Array(s);
  }

  /** Cells held. */
  get stored(): number {
    return this.cells.count;
  }

  /** Cells, their counts, radii and nearest-cell entries, and (once a cell is held) the query statistics. */
  override get bytes(): number {
    const n = this.cells.count;
    return n === 0 ? this.cells.heldBytes : this.cells.heldBytes + n * CELL_EXTRA + this.querySquares.byteLength;
  }

  /** The bound e^{max(ρ_c, b_c)} − 1 on |Ẑ/Z − 1| of the last query (0 before one, and while every cell holds one token). */
  get lastBound(): number {
    return this.bound;
  }

  /**
   * The number of tokens in each cell (a copy).
   * @returns Counts in cell order.
   */
  cellSizes(): Float32Array {
    return this.counts.slice(0, this.cells.count);
  }

  /** Answers whose remainder bound exceeded 1/2 (the cells are then a heuristic, not certified), so far. */
  get uncertified(): number {
    return this.uncertifiedCount;
  }

  /** Tokens dropped because the budget held no cell when they arrived. */
  get droppedTokens(): number {
    return this.dropped;
  }

  protected override byteCost(): ByteCost {
    return { fixed: 8 * this.keyDim + this.cells.fixedBytes, perRow: this.cells.perRowBytes + CELL_EXTRA };
  }

  /** The metric weight of coordinate j: τ²·E[q_j²] over the queries seen (τ² before any). */
  private weight(j: number): number {
    const t2 = this.tau * this.tau;
    return this.queries === 0 ? t2 : (t2 * this.querySquares[j]!) / this.queries;
  }

  /** √(Σ_j E[q_j²]) over the queries seen (√d before any, as the metric assumes unit coordinates). */
  private rmsQueryNorm(): number {
    if (this.queries === 0) return Math.sqrt(this.keyDim);
    let sum = 0;
    for (let j = 0; j < this.keyDim; j++) sum += this.querySquares[j]!;
    return Math.sqrt(sum / this.queries);
  }

  /** Ward cost of merging a cell of count na at `x` with one of count nb at `y`. */
  private ward(x: Float64Array, na: number, y: Float64Array, nb: number): number {
    let s = 0;
    for (let j = 0; j < x.length; j++) {
      const t = x[j]! - y[j]!;
      s += this.weight(j) * t * t;
    }
    return (s * na * nb) / (na + nb);
  }

  private cost(c: number, e: number): number {
    this.cells.readKey(c, this.a);
    this.cells.readKey(e, this.other);
    return this.ward(this.a, this.counts[c]!, this.other, this.counts[e]!);
  }

  /** Recomputes the nearest other cell of `c`. */
  private refreshNearest(c: number): void {
    let best = -1;
    let bestCost = Infinity;
    for (let e = 0; e < this.cells.count; e++) {
      if (e === c) continue;
      const cost = this.cost(c, e);
      if (cost < bestCost) {
        bestCost = cost;
        best = e;
      }
    }
    this.nearest[c] = best;
    this.nearestCost[c] = bestCost;
  }

  /** Cell `c` changed: its own nearest cell, and every cell for which it is now nearer or was the nearest. */
  private changed(c: number): void {
    const n = this.cells.count;
    let best = -1;
    let bestCost = Infinity;
    for (let e = 0; e < n; e++) {
      if (e === c) continue;
      const cost = this.cost(c, e);
      if (cost < bestCost) {
        bestCost = cost;
        best = e;
      }
      if (cost < this.nearestCost[e]!) {
        this.nearest[e] = c;
        this.nearestCost[e] = cost;
      } else if (this.nearest[e] === c) {
        this.nearest[e] = -2; // was nearest to c, which moved away: recompute below
      }
    }
    this.nearest[c] = best;
    this.nearestCost[c] = bestCost;
    for (let e = 0; e < n; e++) if (this.nearest[e] === -2) this.refreshNearest(e);
  }

  private grow(rows: number): void {
    if (rows <= this.counts.length) return;
    const next = Math.max(rows, 2 * this.counts.length);
    const grow = <T extends Float32Array | Int32Array>(a: T, make: (n: number) => T): T => {
      const b = make(next);
      b.set(a);
      return b;
    };
    this.counts = grow(this.counts, (k) => new Float32Array(k));
    this.radii = grow(this.radii, (k) => new Float32Array(k));
    this.spread = grow(this.spread, (k) => new Float32Array(k));
    this.nearest = grow(this.nearest, (k) => new Int32Array(k));
    this.nearestCost = grow(this.nearestCost, (k) => new Float32Array(k));
  }

  /**
   * Writes a cell of `count` tokens at mean key `key`, mean value `value`, radius `radius` and
   * spread (sum of squared logit deviations) `spread`. Its log-weight is ln n + spread/(2n): the
   * second-order cumulant correction E[e^X] = e^{E[X] + Var[X]/2}, which removes the Jensen bias
   * of the mean token when the logit deviations in the cell are Gaussian — but never more than
   * R·τ·||q||rms, the remainder bound's excess for a query of the typical norm (Z_c ≤ n·e^{a + ρ_c}):
   * a larger correction overestimates the cell for sure (and at huge norms would overflow).
   */
  private writeCell(c: number, key: Float64Array, value: Float64Array, count: number, radius: number, spread: number): void {
    for (let j = 0; j < key.length; j++) this.row[j] = key[j]!;
    for (let j = 0; j < value.length; j++) this.rowValue[j] = value[j]!;
    // The store keeps log-weights in float32: beyond 1e38 the answer is void anyway (and flagged).
    const logWeight = Math.log(count) + Math.min(spread / (2 * count), this.tau * radius * this.rmsQueryNorm(), 1e38);
    if (c === this.cells.count) this.cells.push(this.row, 0, this.rowValue, 0, 0, logWeight);
    else this.cells.write(c, this.row, 0, this.rowValue, 0, 0, logWeight);
    this.counts[c] = count;
    this.radii[c] = radius;
    this.spread[c] = spread;
  }

  /**
   * Merges a cell of `n` tokens at (`key`, `value`, radius `r`, spread `sp`) into cell `c` at Ward
   * cost `cost`: the means are count-weighted, the radius bound grows by the distance each side's
   * mean moves, the spreads add up with the cost (Ward's identity).
   */
  private mergeInto(c: number, key: Float64Array, value: Float64Array, n: number, r: number, sp: number, cost: number): void {
    const m = this.counts[c]!;
    const t = m + n;
    const mu = this.a;
    const v = this.value;
    this.cells.readKey(c, mu);
    this.cells.readValue(c, v);
    let moveOld = 0;
    let moveNew = 0;
    for (let j = 0; j < mu.length; j++) {
      const next = (mu[j]! * m + key[j]! * n) / t;
      moveOld += (next - mu[j]!) ** 2;
      moveNew += (next - key[j]!) ** 2;
      mu[j] = next;
    }
    for (let j = 0; j < v.length; j++) v[j] = (v[j]! * m + value[j]! * n) / t;
    const radius = Math.max(this.radii[c]! + Math.sqrt(moveOld), r + Math.sqrt(moveNew));
    this.writeCell(c, mu, v, t, radius, this.spread[c]! + sp + cost);
  }

  protected onAppend(key: Float32Array, value: Float32Array, position: number): void {
    const cap = this.capacityAt(position + 1);
    if (cap <= 0) {
      this.dropped++;
      return;
    }
    const n = this.cells.count;
    if (++this.sinceRefresh >= REFRESH) {
      this.sinceRefresh = 0;
      for (let c = 0; c < n; c++) this.refreshNearest(c);
    }
    const x = this.tokenKey;
    const xv = this.tokenValue;
    for (let j = 0; j < x.length; j++) x[j] = key[j]!;
    for (let j = 0; j < xv.length; j++) xv[j] = value[j]!;
    if (n < cap) {
      this.grow(n + 1);
      this.cells.limit = n + 1;
      this.writeCell(n, x, xv, 1, 0, 0);
      this.changed(n);
      return;
    }
    // Full: join the nearest cell, unless the two closest cells are closer to each other.
    let best = -1;
    let bestCost = Infinity;
    for (let c = 0; c < n; c++) {
      const cost = this.ward(this.cells.readKey(c, this.other), this.counts[c]!, x, 1);
      if (cost < bestCost) {
        bestCost = cost;
        best = c;
      }
    }
    let pair = -1;
    let pairCost = Infinity;
    for (let c = 0; c < n; c++) {
      if (this.nearestCost[c]! < pairCost) {
        pairCost = this.nearestCost[c]!;
        pair = c;
      }
    }
    if (pair < 0 || bestCost <= pairCost) {
      this.mergeInto(best, x, xv, 1, 0, 0, bestCost);
      this.changed(best);
      return;
    }
    const into = Math.min(pair, this.nearest[pair]!);
    const from = Math.max(pair, this.nearest[pair]!);
    const cost = this.cost(into, from);
    this.mergeInto(into, this.cells.readKey(from, this.sourceKey), this.cells.readValue(from, this.sourceValue), this.counts[from]!, this.radii[from]!, this.spread[from]!, cost);
    this.writeCell(from, x, xv, 1, 0, 0);
    this.changed(into);
    this.changed(from);
  }

  protected onSums(query: Float32Array, out: KernelSums): KernelSums {
    // The query statistics are held (and learnt) once the budget holds a cell.
    if (this.cells.count > 0) {
      for (let j = 0; j < this.keyDim; j++) this.querySquares[j] += query[j]! * query[j]!;
      this.queries++;
    }
    const qn = nrm2(this.keyDim, query, 1, 0);
    let worst = 0;
    for (let c = 0; c < this.cells.count; c++) {
      const n = this.counts[c]!;
      if (n > 1) worst = Math.max(worst, qn * this.radii[c]! * this.tau, this.spread[c]! / (2 * n));
    }
    this.bound = Math.expm1(worst);
    if (!(this.bound <= CERTIFIED)) this.uncertifiedCount++;
    return this.cells.sums(query, this.tau, out);
  }

  protected onReset(): void {
    this.cells.clear();
    this.cells.limit = 0;
    this.querySquares.fill(0);
    this.queries = 0;
    this.sinceRefresh = 0;
    this.dropped = 0;
    this.bound = 0;
    this.uncertifiedCount = 0;
  }

  protected saveState(): CacheState {
    const n = this.cells.count;
    return {
      scalars: { queries: this.queries, sinceRefresh: this.sinceRefresh, dropped: this.dropped, uncertified: this.uncertifiedCount },
      arrays: {
        counts: this.counts.subarray(0, n),
        radii: this.radii.subarray(0, n),
        spread: this.spread.subarray(0, n),
        nearest: this.nearest.subarray(0, n),
        nearestCost: this.nearestCost.subarray(0, n),
        querySquares: this.querySquares.subarray(0, n === 0 ? 0 : this.keyDim),
      },
      parts: { cells: this.cells.state() },
    };
  }

  protected restoreState(r: StateReader): void {
    this.cells.limit = r.array('counts', Float32Array).length;
    this.cells.loadState(r.part('cells'));
    const n = this.cells.count;
    this.grow(n);
    this.counts.set(r.array('counts', Float32Array, n));
    this.radii.set(r.array('radii', Float32Array, n));
    this.spread.set(r.array('spread', Float32Array, n));
    const nearest = r.array('nearest', Int32Array, n);
    for (const e of nearest) if (!(e >= -1 && e < n)) r.refuse(`nearest cell ${e} out of range`);
    this.nearest.set(nearest);
    this.nearestCost.set(r.array('nearestCost', Float32Array, n));
    this.querySquares.set(r.array('querySquares', Float64Array, n === 0 ? 0 : this.keyDim));
    this.queries = r.integer('queries', 0, Number.MAX_SAFE_INTEGER);
    this.sinceRefresh = r.integer('sinceRefresh', 0, REFRESH);
    this.dropped = r.integer('dropped', 0, Number.MAX_SAFE_INTEGER);
    this.uncertifiedCount = r.integer('uncertified', 0, Number.MAX_SAFE_INTEGER);
  }

  protected override describeSummary(): string {
    return `moment-cells: ${this.cells.count} degree-0 cells in ${this.cells.precisionLabel} (Ward merges under the query metric), last remainder bound ${this.bound.toPrecision(3)}, ${this.uncertifiedCount} answers above 1/2${this.dropped > 0 ? `, ${this.dropped} tokens dropped before the budget held a cell` : ''}`;
  }

  protected override describeStats(): Record<string, number | string | boolean> {
    return { cells: this.cells.count, remainderBound: this.bound, uncertified: this.uncertifiedCount, dropped: this.dropped };
  }
}

/**
 * The `moment-cells` policy: evicted tokens merged into degree-0 moment cells by a streaming Ward
 * cost (see {@link MomentCellsCache}).
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { momentCellsPolicy } from '@kv/polynomial';
 * new PolicyRegistry().register(momentCellsPolicy).create({ policy: 'moment-cells', keyDim: 8, valueDim: 8, budget: 16 });
 * ```
 */
export const momentCellsPolicy: PolicyDefinition = {
  name: 'moment-cells',
  summary: 'Tokens merged into degree-0 moment cells (count, mean key, mean value) by a streaming Ward cost under the query metric; per-cell remainder bound e^{||q||R_cτ} − 1; the middle of a tiered cache.',
  params: momentCellsParams,
  budget: 'required',
  create: (spec) => new MomentCellsCache(spec),
};
