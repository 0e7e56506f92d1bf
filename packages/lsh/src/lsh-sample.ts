import {
  BaseHeadCache,
  type ByteCost,
  type CacheState,
  createKernelSums,
  dotUnit,
  floorBytes,
  integerParam,
  type KernelSums,
  mergeSums,
  mixSeed,
  type PolicyDefinition,
  type PolicySpec,
  parsePrecision,
  precisionParam,
  requireFits,
  Rng,
  type StateReader,
} from '@kv/core';
import { budgetFloorRows, ExactEdges, fitEdges, middleCapacity, PrioritySample, samplingRates, storeLimit } from '@kv/coreset';
import { SimHash } from './family.js';

/**
 * MagicPIG-style LSH sampling (`"lsh-sample"`): exact sinks and window; the tokens that leave the
 * window go to a uniform (priority) sample sized by the budget, each with its SimHash code in L
 * tables of K bits. A query attends only to the held tokens that share its cell in at least one
 * table, each weighted by 1/p, p = 1 − (1 − (1 − θ/π)^K)^L the probability that a key at angle θ
 * from the query collides in some table, on top of the sample's own weight.
 *
 * @remarks
 * - Unbiased over the draw of the hash functions and of the sample, for N and Z. The union of the
 *   L tables' cells is weighted by the union's probability: weighting each table's hits by
 *   1/(L·p₁) and then removing duplicates, as a deduplicated candidate set invites, under-counts.
 * - What it saves is compute, not memory: the held tokens are those of a uniform sample of the
 *   same bytes (minus the codes, K·L bits each, and the functions), and answering from a subset of
 *   them adds variance (conditioning on the held set, attending to all of it is the
 *   Rao–Blackwellised estimator). On real attention it therefore cannot beat the `uniform` middle
 *   at equal bytes; the package README gives the measured errors. It pays when attending to every
 *   held token costs more than hashing the query and comparing codes.
 * - Byte budgets of any form. The hash functions (L·K·d floats) take at most a quarter of the
 *   smallest budget (tables, then bits, are halved until they do); the sinks and window shrink to
 *   fit what is left.
 * @see Chen et al., "MagicPIG: LSH Sampling for Efficient LLM Generation", arXiv 2410.16179.
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { lshSamplePolicy } from '@kv/lsh';
 * const cache = new PolicyRegistry().register(lshSamplePolicy).create({
 *   policy: 'lsh-sample', keyDim: 64, valueDim: 64, budget: { fraction: 1 / 8 }, params: { sink: 4, window: 32 },
 * });
 * ```
 */
export class LshSample extends BaseHeadCache {
  /** Exact leading tokens (after fitting the budget). */
  readonly sink: number;
  /** Exact trailing tokens (after fitting the budget). */
  readonly window: number;
  /** Bits K per table (after fitting the budget). */
  readonly bits: number;
  /** Tables L (after fitting the budget). */
  readonly tables: number;
  /** Queries answered so far, and the held tokens they attended to (for describe). */
  private answered = 0;
  private attended = 0;
  private readonly edges: ExactEdges;
  private readonly sample: PrioritySample;
  private readonly families: SimHash[];
  private codes: Uint8Array | Uint16Array;
  private norms: Float32Array;
  private readonly queryCodes: Int32Array;
  private readonly middleRows: (seen: number, rowBytes: number) => number;
  private readonly key: Float32Array;
  private readonly part: KernelSums;
  private logits = new Float64Array(0);
  private rows = new Int32Array(0);
  private readonly value: Float32Array;
  // A sampled row: the sample's row, its codes (one byte or two per table) and its key norm.
  private readonly sampleRowBytes: number;

  /**
   * @param spec - Spec with a budget; params sink, window, hashes (K), tables (L).
   * @throws `InvalidParamsError` for bad parameters; `InvalidBudgetError` when the hash functions
   *   do not fit the smallest budget.
   */
  constructor(spec: PolicySpec) {
    super(spec);
    const d = this.keyDim;
    const s = this.valueDim;
    const p = spec.params;
    let bits = integerParam(p, 'hashes', { default: 8, min: 1, max: 16 });
    let tables = integerParam(p, 'tables', { default: 8, min: 1, max: 64 });
    // The functions take at most a quarter of the smallest budget: halve the tables, then the bits.
    const quarter = floorBytes(spec.budget, d, s) / 4;
    while (tables * bits * d * 4 > quarter && (tables > 1 || bits > 1)) {
      if (tables > 1) tables = Math.floor(tables / 2);
      else bits = Math.floor(bits / 2);
    }
    this.bits = bits;
    this.tables = tables;
    const rng = new Rng(spec.seed ?? 0);
    this.families = Array.from({ length: this.tables }, () => new SimHash(d, this.bits, rng));
    const functionBytes = this.tables * this.bits * d * 4;
    requireFits('lsh-sample', spec.budget, { fixed: functionBytes, perRow: 4 * (d + s) + 4 }, d, s, 1);
    const precision = parsePrecision(p?.['precision'], 'lsh-sample params');
    const seed = spec.seed ?? 0;
    const probe = new ExactEdges(d, s, 0, 0, precision, seed);
    const floor = budgetFloorRows(spec.budget, probe.rowBytes, d, s);
    const fit = fitEdges(Math.max(0, floor - Math.ceil(functionBytes / probe.rowBytes)), integerParam(p, 'sink', { default: 4, min: 0 }), integerParam(p, 'window', { default: 32, min: 0 }), 1);
    this.sink = fit.sink;
    this.window = fit.window;
    this.edges = new ExactEdges(d, s, this.sink, this.window, precision, seed);
    const edgeRows = this.sink + this.window;
    // The hash functions are reserved like extra exact rows; the middle gets the rest.
    const reserve = edgeRows + Math.ceil(functionBytes / this.edges.rowBytes);
    const probeSample = new PrioritySample(d, s, 0, 0, undefined, precision);
    this.middleRows = middleCapacity(spec.budget, reserve, this.edges.rowBytes, d, s, this.edges.fixedBytes + probeSample.store.fixedBytes);
    this.sampleRowBytes = probeSample.rowBytes + this.tables * (this.bits <= 8 ? 1 : 2) + 4;
    const rowBytes = this.sampleRowBytes;
    const rates = samplingRates((count) => this.middleRows(count + reserve, rowBytes));
    this.sample = new PrioritySample(d, s, mixSeed(seed, 3), storeLimit(this.middleRows(2 ** 31 - 1, rowBytes), rowBytes), (position) => rates(position - this.sink), precision);
    this.codes = this.bits <= 8 ? new Uint8Array(0) : new Uint16Array(0);
    this.norms = new Float32Array(0);
    this.sample.observer = {
      written: (slot) => this.index(slot),
      moved: (from, to) => {
        this.codes.copyWithin(to * this.tables, from * this.tables, (from + 1) * this.tables);
        this.norms[to] = this.norms[from]!;
      },
    };
    this.queryCodes = new Int32Array(this.tables);
    this.key = new Float32Array(d);
    this.value = new Float32Array(s);
    this.part = createKernelSums(s);
  }


  /** Rows held. */
  get stored(): number {
    return this.edges.rows + this.sample.count;
  }

  /** Bytes held: exact rows, sampled rows with their codes and norms, and the hash functions. */
  override get bytes(): number {
    const n = this.sample.count;
    return this.edges.heldBytes + this.sample.heldBytes + n * (this.codes.BYTES_PER_ELEMENT * this.tables + 4) + this.tables * this.bits * this.keyDim * 4;
  }

  protected override byteCost(): ByteCost {
    return { fixed: 0, perRow: this.edges.rowBytes };
  }

  protected override capacityAt(seen: number): number {
    return this.sink + this.window + this.middleRows(seen, this.sampleRowBytes);
  }

  /** Positions of the held rows (sinks, window, sample). */
  positions(): Int32Array {
    const out = new Int32Array(this.stored);
    out.set(this.sample.store.positions(), this.edges.writePositions(out, 0));
    return out;
  }

  protected onAppend(key: Float32Array, value: Float32Array, position: number): void {
    const e = this.edges;
    const where = e.admit(key, value, position);
    if (where === 'kept') return;
    const capacity = this.middleRows(position + 1, this.sampleRowBytes);
    if (where === 'through') this.sample.offer(key, value, position, capacity);
    else this.sample.offer(e.leavingKey, e.leavingValue, e.leavingPosition, capacity);
  }

  protected onSums(query: Float32Array, out: KernelSums): KernelSums {
    this.edges.sums(query, this.tau, out);
    const n = this.sample.count;
    if (n === 0) return out;
    const L = this.tables;
    const K = this.bits;
    for (let t = 0; t < L; t++) this.queryCodes[t] = this.families[t]!.hash(query, 0);
    const qn = Math.sqrt(dotUnit(this.keyDim, query, 0, query, 0));
    if (this.logits.length < n) {
      this.logits = new Float64Array(Math.max(n, 2 * this.logits.length));
      this.rows = new Int32Array(this.logits.length);
    }
    const store = this.sample.store;
    let hits = 0;
    let m = -Infinity;
    for (let i = 0; i < n; i++) {
      let hit = false;
      for (let t = 0; t < L && !hit; t++) hit = this.codes[i * L + t] === this.queryCodes[t];
      if (!hit) continue;
      const dot = store.keyDot(i, query);
      const denom = qn * this.norms[i]!;
      const cosine = denom > 0 ? Math.max(-1, Math.min(1, dot / denom)) : 0;
      const p1 = Math.pow(1 - Math.acos(cosine) / Math.PI, K);
      // ln of P(collide in at least one of L tables) = ln(1 − (1 − p1)^L), accurate for small p1.
      const lp = Math.log(-Math.expm1(L * Math.log1p(-Math.min(p1, 1 - 1e-16))));
      const l = this.tau * dot + this.sample.logWeight(i) - lp;
      this.logits[hits] = l;
      this.rows[hits++] = i;
      if (l > m) m = l;
    }
    this.answered++;
    this.attended += hits;
    if (hits === 0) return out;
    const part = this.part;
    part.n.fill(0);
    let z = 0;
    for (let h = 0; h < hits; h++) {
      const w = Math.exp(this.logits[h]! - m);
      z += w;
      store.readValue(this.rows[h]!, this.value);
      for (let j = 0; j < this.valueDim; j++) part.n[j]! += w * this.value[j]!;
    }
    part.m = m;
    part.z = z;
    return mergeSums(out, part);
  }

  protected onReset(): void {
    this.edges.clear();
    this.sample.clear();
    this.answered = 0;
    this.attended = 0;
  }

  protected saveState(): CacheState {
    const n = this.sample.count;
    const arrays: Record<string, Float32Array | Uint8Array | Uint16Array> = {
      codes: this.codes.subarray(0, n * this.tables),
      norms: this.norms.subarray(0, n),
    };
    this.families.forEach((f, t) => (arrays[`planes${t}`] = f.planes));
    return {
      scalars: { answered: this.answered, attended: this.attended },
      arrays,
      parts: { edges: this.edges.state(), sample: this.sample.state() },
    };
  }

  protected restoreState(r: StateReader): void {
    const answered = r.integer('answered', 0, 2 ** 53);
    const attended = r.integer('attended', 0, 2 ** 53);
    this.families.forEach((f, t) => {
      const planes = r.array(`planes${t}`, Float32Array, f.planes.length);
      for (let i = 0; i < planes.length; i++) if (!Object.is(planes[i], f.planes[i])) r.refuse('the hash functions do not match this cache\'s seed');
    });
    const sample = r.part('sample');
    const n = sample.part('rows').integer('count', 0, 2 ** 31 - 1);
    const codes = r.array('codes', this.codes.constructor as Uint8ArrayConstructor, n * this.tables);
    const norms = r.array('norms', Float32Array, n);
    this.edges.loadState(r.part('edges'));
    const observer = this.sample.observer;
    this.sample.observer = null;
    try {
      this.sample.loadState(sample);
    } finally {
      this.sample.observer = observer;
    }
    this.grow(n);
    this.codes.set(codes);
    this.norms.set(norms);
    this.answered = answered;
    this.attended = attended;
  }

  protected override describeSummary(): string {
    const mean = this.answered > 0 ? this.attended / this.answered : 0;
    return `lsh-sample: ${this.sink} sinks + ${this.window} window exact, ${this.sample.count} sampled middle tokens in ${this.tables} SimHash tables of ${this.bits} bits; a query attends to ${mean.toFixed(1)} of them on average`;
  }

  protected override describeStats(): Record<string, number | string | boolean> {
    return { sinks: this.sink, window: this.window, sampled: this.sample.count, tables: this.tables, bits: this.bits, meanAttended: this.answered > 0 ? this.attended / this.answered : 0 };
  }

  // Hashes the key now in `slot` into its codes and norm.
  private index(slot: number): void {
    this.grow(slot + 1);
    const store = this.sample.store;
    store.readKey(slot, this.key);
    for (let t = 0; t < this.tables; t++) this.codes[slot * this.tables + t] = this.families[t]!.hash(this.key, 0);
    this.norms[slot] = Math.sqrt(dotUnit(this.keyDim, this.key, 0, this.key, 0));
  }

  private grow(rows: number): void {
    if (this.norms.length >= rows) return;
    const size = Math.max(rows, 2 * this.norms.length, 16);
    const codes = this.bits <= 8 ? new Uint8Array(size * this.tables) : new Uint16Array(size * this.tables);
    codes.set(this.codes);
    const norms = new Float32Array(size);
    norms.set(this.norms);
    this.codes = codes;
    this.norms = norms;
  }
}

/**
 * Registry entry of {@link LshSample} (`"lsh-sample"`).
 *
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { lshSamplePolicy } from '@kv/lsh';
 * new PolicyRegistry().register(lshSamplePolicy);
 * ```
 */
export const lshSamplePolicy: PolicyDefinition = {
  name: 'lsh-sample',
  summary:
    'MagicPIG-style LSH sampling: exact sinks and window, a uniform sample of the middle whose keys colliding with the query (SimHash, L tables of K bits) are attended with weight 1/p; unbiased; saves compute, not memory.',
  params: [
    { name: 'sink', type: 'integer', default: 4, description: 'Leading tokens kept exactly (shrunk when the budget is smaller).' },
    { name: 'window', type: 'integer', default: 32, description: 'Trailing tokens kept exactly (shrunk when the budget is smaller).' },
    { name: 'hashes', type: 'integer', default: 8, description: 'SimHash bits K per table (1–16).' },
    { name: 'tables', type: 'integer', default: 8, description: 'Tables L (1–64).' },
    precisionParam,
  ],
  budget: 'required',
  create: (spec) => new LshSample(spec),
};
