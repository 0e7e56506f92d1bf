import {
  BaseHeadCache,
  type CacheState,
  clearSums,
  createKernelSums,
  dotUnit,
  floorBytes,
  integerParam,
  type KernelSums,
  mergeSums,
  numberParam,
  type PolicyDefinition,
  type PolicySpec,
  parsePrecision,
  precisionParam,
  Reservoir,
  Rng,
  SlotStore,
  type StateReader,
} from '@kv/core';
import { storeLimit } from '@kv/coreset';
import { fitTables, maxBudgetBytes } from './lsh-budget.js';
import { familyParams, readFamilyParams } from './params.js';
import { LshTables } from './tables.js';

const LN2 = Math.LN2;
const MAX_LEVEL = 255;

/**
 * The multi-rate streaming estimator (`"lsh-multirate"`), after Charikar–Kapralov–Nouri–
 * Siminelakis: nested samples of the stream at rates 2^{−j}, indexed by LSH tables, each token
 * answered from the level that matches its kernel value, reweighted by 2^j and by the inverse
 * collision probability.
 *
 * Every token draws a level g with P(g ≥ j) = 2^{−j}; level j is the sample {tokens with g ≥ j}.
 * Only levels j ≥ jMin are kept, where jMin is the smallest level whose sample fits the slot
 * capacity (levels below are retired as the stream grows), and at most `levels` levels are used.
 * For a query, an independent pilot reservoir gives an anchor a ≈ ln Z; a token with logit ℓ
 * belongs to band b = ⌊(a − ℓ)/ln 2⌋ − {@link LshMultiRate.bandShift} clamped to
 * [jMin, jMin + levels − 1]. Without the shift, tokens about 2^{−b} of the total are answered at
 * rate 2^{−b}, so each counted term is about Z, as in the paper; the shift (default ⌊log₂ C⌋ for
 * a sample capacity C) oversamples by 2^{shift}, so a token of weight w is answered at rate about
 * min(2^{−jMin}, C·w/Z) and the budget decides how many tokens an answer uses.
 * The answer is (1 − α)·Σ_{colliding i, g_i ≥ b_i} 2^{b_i} e^{ℓ_i} / (L·p_i) + α·(pilot estimate).
 *
 * @remarks
 * - **Unbiased** for Z and N: conditioned on the other tokens, token i is kept at level ≥ b iff
 *   g_i ≥ b with b ≥ jMin, and jMin (a function of the others' levels when i is kept) does not
 *   depend on g_i, so P = 2^{−b}; the hash functions and the pilot are independent of the levels.
 *   Collision probabilities are exact for SimHash (tabulated for the other families).
 * - **Bounded memory at every step**: the kept tokens, one set of L tables over them (level j's
 *   tables are the nested restriction of these to g ≥ j: stored once, since every level uses the
 *   same L functions), the functions and the pilot fit the budget; `stored` counts the token rows
 *   (sample and pilot). Storage grows with what is kept, so a huge budget allocates nothing up front.
 * - Budgets: any form. The tables and the pilot are sized once, from the smallest budget the cache
 *   will get (halved until they fit with room for a few samples; `create` throws
 *   `InvalidBudgetError` naming the smallest budget when one table does not fit); the sample
 *   capacity grows with a `{fraction}` budget.
 * - The pilot mixture (weight α = `pilotWeight`) keeps Z > 0, so N/Z is always finite.
 * - Variance is not bounded by a theorem here (the paper's per-level parameter tuning and
 *   multiple guesses of Z are not reproduced); judge it empirically.
 * - With `bandShift: 0` (the paper's rate, and this policy's behaviour before the shift existed)
 *   diffuse attention (every weight ≈ Z/t) is answered from about one sampled token whatever the
 *   budget: the budget only moves jMin, below the bands in use, so budgets of 1/4 and 1/8 of a
 *   stream gave identical answers.
 * - **Less accurate than a uniform sample of the same memory on diffuse attention**, even with
 *   the shift: the tables, pilot, levels and norms take part of the budget, the densest level
 *   holds between C/2 and C tokens, and only tokens colliding with q count (weighted 1/(L·p); at
 *   near-orthogonal angles a 4-bit SimHash collides with p ≈ 1/16), so an answer uses a fraction
 *   of the tokens a uniform sample would. The README has the measured errors.
 * @see Charikar, Kapralov, Nouri, Siminelakis, "Kernel Density Estimation through Density
 *   Constrained Near Neighbor Search", FOCS 2020 (arXiv 2011.06997).
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { lshPolicies } from '@kv/lsh';
 * const cache = new PolicyRegistry().register(...lshPolicies).create({
 *   policy: 'lsh-multirate', keyDim: 64, valueDim: 64, budget: 512,
 * });
 * ```
 */
export class LshMultiRate extends BaseHeadCache {
  /** Number of active levels. */
  readonly levels: number;
  /** Pilot reservoir size. */
  readonly pilotSize: number;
  /** Weight α of the pilot in the answer. */
  readonly pilotWeight: number;
  /** Tables in use (the requested count, halved to fit a small budget). */
  readonly tableCount: number;
  /**
   * Levels every band is lowered by (param `bandShift`, default ⌊log₂ of the sample capacity at
   * the budget's floor⌋): a token of weight w is answered at rate about
   * min(2^{−jMin}, 2^{bandShift}·w/Z) instead of w/Z. A constant, so the estimate stays unbiased.
   */
  readonly bandShift: number;
  private readonly tables: LshTables;
  private readonly store: SlotStore;
  private level: Uint8Array;
  private norms: Float32Array;
  private levelRng: Rng;
  private readonly pilot: SlotStore;
  private pilotReservoir: Reservoir;
  private pilotRng: Rng;
  private readonly part: KernelSums;
  private readonly fixedBytes: number;
  private readonly sampleRowBytes: number;
  private readonly rowBytes: number;
  private jMin = 0;

  /**
   * @param spec - The spec; any budget form. Params: the family's, `levels`, `pilot`,
   *   `pilotWeight`, `bandShift`.
   * @throws `InvalidBudgetError` when the smallest budget cannot hold one table, the pilot and two
   *   samples; `InvalidParamsError` for bad parameters.
   */
  constructor(spec: PolicySpec) {
    super(spec);
    const { family, tables } = readFamilyParams(spec, { hashes: 4, tables: 4 });
    this.levels = integerParam(spec.params, 'levels', { default: 8, min: 1, max: 64 });
    const pilot = integerParam(spec.params, 'pilot', { default: 16, min: 1 });
    this.pilotWeight = numberParam(spec.params, 'pilotWeight', { default: 0.1, min: 1e-6, max: 1 });
    const d = this.keyDim;
    const s = this.valueDim;
    const precision = parsePrecision(spec.params?.['precision'], 'lsh-multirate params');
    const rows = { seed: spec.seed ?? 0, ...(spec.params?.['precision'] === undefined ? {} : { precision }) };
    // Rows at their precision; a precision's residual and rotation signs are held per store.
    const probe = new SlotStore(d, s, rows);
    const rowBytes = probe.perRowBytes;
    // The pilot is a fixed part: at most a quarter of the smallest budget.
    const floor = floorBytes(spec.budget, d, s);
    this.pilotSize = Math.max(1, Math.min(pilot, Math.floor(floor / 4 / rowBytes)));
    const fit = fitTables('lsh-multirate', spec.budget, d, s, family, tables, this.pilotSize * rowBytes + 2 * probe.fixedBytes, rowBytes + 5, 2);
    this.tableCount = fit.tables;
    this.fixedBytes = fit.fixed + this.pilotSize * rowBytes + 2 * probe.fixedBytes;
    this.sampleRowBytes = rowBytes + 5 + fit.perItem;
    this.rowBytes = rowBytes;
    const rng = new Rng(spec.seed ?? 0);
    const most = this.slotCapacityAt(Infinity);
    this.tables = new LshTables(d, this.tableCount, fit.family, rng.fork(1), most, false, fit.direct);
    this.levelRng = rng.fork(2);
    this.pilotRng = rng.fork(3);
    this.store = new SlotStore(d, s, { maxSlots: storeLimit(most, rowBytes), ...rows });
    this.level = new Uint8Array(Math.min(16, most));
    this.norms = new Float32Array(Math.min(16, most));
    this.pilot = new SlotStore(d, s, { maxSlots: this.pilotSize, initialSlots: Math.min(16, this.pilotSize), ...rows });
    this.pilotReservoir = new Reservoir(this.pilotSize, this.pilotRng);
    this.part = createKernelSums(s);
    const floorCapacity = Math.max(1, this.slotCapacityAt(0));
    this.bandShift = integerParam(spec.params, 'bandShift', { default: Math.floor(Math.log2(floorCapacity)), min: 0, max: MAX_LEVEL });
  }

  /** Tokens the kept sample may hold now. */
  get slotCapacity(): number {
    return this.slotCapacityAt(this.seen);
  }

  /**
   * Tokens the kept sample may hold after `seen` tokens.
   * @param seen - Tokens seen (Infinity: the most it will ever hold).
   * @returns The capacity.
   */
  slotCapacityAt(seen: number): number {
    const budget = Number.isFinite(seen) ? this.budgetBytesAt(seen) : maxBudgetBytes(this.spec.budget, this.keyDim, this.valueDim);
    return Math.max(0, Math.min(2 ** 28, Math.floor((budget - this.fixedBytes) / this.sampleRowBytes)));
  }

  /** Token rows held: the kept sample and the pilot (the tables are counted in `bytes`). */
  get stored(): number {
    return this.store.count + this.pilot.count;
  }

  protected override capacityAt(seen: number): number {
    return Math.ceil(this.budgetBytesAt(seen) / this.rowBytes);
  }

  /** Bytes held: tables, kept tokens with their levels and norms, the pilot. */
  override get bytes(): number {
    const n = this.store.count;
    return this.tables.heldBytes(n) + this.store.heldBytes + 5 * n + this.pilot.heldBytes;
  }

  /** The lowest kept level jMin (the densest sample has rate 2^{−jMin}). */
  get lowestLevel(): number {
    return this.jMin;
  }

  /** Tokens currently kept in the levels. */
  get sampleCount(): number {
    return this.store.count;
  }

  /** Positions of the kept tokens, then of the pilot's. */
  positions(): Int32Array {
    const a = this.store.positions();
    const b = this.pilot.positions();
    const out = new Int32Array(a.length + b.length);
    out.set(a);
    out.set(b, a.length);
    return out;
  }

  protected onAppend(key: Float32Array, value: Float32Array, position: number): void {
    const p = this.pilotReservoir.offer();
    if (p >= 0) {
      if (p === this.pilot.count) this.pilot.push(key, 0, value, 0, position, 0);
      else this.pilot.write(p, key, 0, value, 0, position, 0);
    }
    const u = this.levelRng.uniform();
    const g = u === 0 ? MAX_LEVEL : Math.min(MAX_LEVEL, Math.floor(-Math.log2(u)));
    const capacity = this.slotCapacityAt(position + 1);
    while (g >= this.jMin && this.store.count >= capacity && this.jMin < MAX_LEVEL) this.retireLowest();
    if (g < this.jMin || this.store.count >= capacity) return;
    const slot = this.store.push(key, 0, value, 0, position, 0);
    if (slot >= this.level.length) this.growRows(slot + 1);
    this.level[slot] = g;
    this.norms[slot] = Math.sqrt(dotUnit(this.keyDim, key, 0, key, 0));
    this.tables.insert(slot, key, 0);
  }

  protected onSums(query: Float32Array, out: KernelSums): KernelSums {
    const part = this.part;
    // Pilot: a uniform reservoir, unbiased with weight seen/|P|; its log Z is the band anchor.
    this.pilot.sums(query, this.tau, part);
    part.m += Math.log(this.seen / this.pilot.count);
    const anchor = part.m + Math.log(part.z);
    part.m += Math.log(this.pilotWeight);
    clearSums(out);
    if (this.pilotWeight < 1) this.levelSums(query, anchor, Math.log(1 - this.pilotWeight), out);
    mergeSums(out, part);
    return out;
  }

  protected onReset(): void {
    this.store.clear();
    this.tables.clear();
    this.pilot.clear();
    const rng = new Rng(this.spec.seed ?? 0);
    rng.fork(1);
    this.levelRng = rng.fork(2);
    this.pilotRng = rng.fork(3);
    this.pilotReservoir = new Reservoir(this.pilotSize, this.pilotRng);
    this.jMin = 0;
  }

  protected saveState(): CacheState {
    const n = this.store.count;
    return {
      scalars: { jMin: this.jMin, offered: this.pilotReservoir.offered, levelRng: this.levelRng.getState(), pilotRng: this.pilotRng.getState() },
      arrays: { levels: this.level.subarray(0, n), norms: this.norms.subarray(0, n) },
      parts: { tables: this.tables.state(n), store: this.store.state(), pilot: this.pilot.state() },
    };
  }

  protected restoreState(r: StateReader): void {
    const jMin = r.integer('jMin', 0, MAX_LEVEL);
    const offered = r.integer('offered', 0, 2 ** 53);
    const levelRng = new Rng(0);
    levelRng.setState(r.numbers('levelRng', 6));
    const pilotRng = new Rng(0);
    pilotRng.setState(r.numbers('pilotRng', 6));
    const store = r.part('store');
    const n = store.integer('count', 0, this.store.maxSlots);
    const levels = r.array('levels', Uint8Array, n);
    const norms = r.array('norms', Float32Array, n);
    for (const g of levels) if (g < jMin) r.refuse(`a kept token of level ${g} below jMin ${jMin}`);
    this.store.loadState(store);
    this.tables.loadState(r.part('tables'), n);
    this.pilot.loadState(r.part('pilot'));
    this.growRows(n);
    this.level.set(levels);
    this.norms.set(norms);
    this.jMin = jMin;
    this.levelRng = levelRng;
    this.pilotRng = pilotRng;
    this.pilotReservoir = new Reservoir(this.pilotSize, pilotRng);
    this.pilotReservoir.offered = offered;
  }

  protected override describeSummary(): string {
    return `lsh-multirate: ${this.store.count} tokens sampled at rates 2^-${this.jMin}…2^-${this.jMin + this.levels - 1} in ${this.tableCount} tables, pilot of ${this.pilot.count}`;
  }

  protected override describeStats(): Record<string, number | string | boolean> {
    return { sampled: this.store.count, lowestLevel: this.jMin, tables: this.tableCount, pilot: this.pilot.count, bandShift: this.bandShift, precision: this.store.precisionLabel };
  }

  private growRows(n: number): void {
    if (n <= this.level.length) return;
    const size = Math.min(this.store.maxSlots, Math.max(n, 2 * this.level.length));
    const level = new Uint8Array(size);
    level.set(this.level);
    const norms = new Float32Array(size);
    norms.set(this.norms);
    this.level = level;
    this.norms = norms;
  }

  /** Drops level jMin: its tokens of level exactly jMin leave the store and the tables. */
  private retireLowest(): void {
    const j = this.jMin;
    const store = this.store;
    let i = 0;
    while (i < store.count) {
      if (this.level[i] !== j) {
        i++;
        continue;
      }
      this.tables.remove(i);
      const last = store.removeSwap(i);
      if (last !== i) {
        this.tables.move(last, i);
        this.level[i] = this.level[last]!;
        this.norms[i] = this.norms[last]!;
      }
    }
    this.jMin = j + 1;
  }

  /** Merges into `out` the level estimate, every term biased by `bias`. */
  private levelSums(query: Float32Array, anchor: number, bias: number, out: KernelSums): void {
    const d = this.keyDim;
    const s = this.valueDim;
    const tables = this.tables;
    tables.hashQuery(query);
    const qNorm = Math.sqrt(dotUnit(d, query, 0, query, 0));
    const store = this.store;
    const lo = this.jMin;
    const hi = this.jMin + this.levels - 1;
    const base = bias - Math.log(tables.tables);
    const shift = this.bandShift;
    const v = (this.valueScratch ??= new Float32Array(s));
    let m = -Infinity;
    let z = 0;
    const n = out.n;
    for (let t = 0; t < tables.tables; t++) {
      const next = tables.indexes[t]!.next;
      const family = tables.families[t]!;
      for (let i = tables.head(t); i >= 0; i = next[i]!) {
        const dot = store.keyDot(i, query);
        const logit = this.tau * dot;
        const raw = Math.floor((anchor - logit) / LN2) - shift;
        const band = raw < lo ? lo : raw > hi ? hi : raw;
        if (this.level[i]! < band) continue;
        const denom = qNorm * this.norms[i]!;
        const lp = family.logCollisionProbability(denom > 0 ? dot / denom : 0);
        const l = logit + band * LN2 - lp + base;
        if (l > m) {
          const f = m === -Infinity ? 0 : Math.exp(m - l);
          z *= f;
          for (let j = 0; j < s; j++) n[j] = n[j]! * f;
          m = l;
        }
        const w = Math.exp(l - m);
        z += w;
        store.readValue(i, v);
        for (let j = 0; j < s; j++) n[j] += w * v[j]!;
      }
    }
    out.m = m;
    out.z = z;
  }

  private valueScratch: Float32Array | null = null;
}

/**
 * Registry entry of {@link LshMultiRate} (`"lsh-multirate"`).
 *
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { lshMultiRatePolicy } from '@kv/lsh';
 * new PolicyRegistry().register(lshMultiRatePolicy);
 * ```
 */
export const lshMultiRatePolicy: PolicyDefinition = {
  name: 'lsh-multirate',
  summary:
    'Nested samples at rates 2^-j indexed by LSH tables; each token answered from its kernel-value band’s level, reweighted by 2^j/p (unbiased); bounded memory.',
  params: [
    ...familyParams({ hashes: 4, tables: 4 }),
    { name: 'levels', type: 'integer', default: 8, description: 'Active levels (rates 2^-jMin … 2^-(jMin+levels-1)).' },
    { name: 'pilot', type: 'integer', default: 16, description: 'Size of the independent pilot reservoir that anchors the bands.' },
    {
      name: 'bandShift',
      type: 'integer',
      description: 'Levels every band is lowered by (log2 of the oversampling factor); default ⌊log2 of the sample capacity⌋, 0 is the paper’s rate.',
    },
    { name: 'pilotWeight', type: 'number', default: 0.1, description: 'Weight α of the pilot estimate in the answer (keeps Z > 0).' },
    precisionParam,
  ],
  budget: 'required',
  create: (spec) => new LshMultiRate(spec),
};
