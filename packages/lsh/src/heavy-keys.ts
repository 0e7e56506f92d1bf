import {
  BaseHeadCache,
  type CacheState,
  checkVector,
  choiceParam,
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
import { SlotMinHeap } from './min-heap.js';
import { familyParams, readFamilyParams } from './params.js';
import { LshTables } from './tables.js';

const BLOCK = 256;

/**
 * How the indexed part chooses which keys to keep once full.
 *
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { lshHeavyPolicy, type RetainRule } from '@kv/lsh';
 * const retain: RetainRule = 'recent';
 * const cache = new PolicyRegistry().register(lshHeavyPolicy)
 *   .create({ policy: 'lsh-heavy', keyDim: 16, valueDim: 16, budget: 256, params: { retain } });
 * ```
 */
export type RetainRule = 'norm' | 'recent';

/**
 * The LSH heavy-keys cache (`"lsh-heavy"`): a budgeted set of keys indexed in L hash tables,
 * plus a uniform reservoir of the keys it evicted.
 *
 * A query is answered from three disjoint parts merged by log-sum-exp (`mergeSums`):
 * 1. the candidates: indexed keys sharing q's cell in at least one table, attended exactly;
 * 2. the other indexed keys: a uniform sample of `sample` of them without replacement, weighted
 *    by (count / sample) (all of them, exactly, when that is about as cheap);
 * 3. the evicted keys: the reservoir, weighted by (evicted / reservoir size).
 *
 * @remarks
 * - **Unbiased** for Z and N over the query-time sample and the reservoir: the indexed set is a
 *   deterministic function of the stream (top-`retain` score), the evicted keys are offered to
 *   the reservoir one per step in stream order (so it is a uniform sample of them), and parts 2–3
 *   are inverse-probability weighted samples of sets disjoint from part 1.
 * - **Memory is honest**: `bytes` counts the keys, values and positions, the tables (their
 *   functions and bucket indexes), the heap and the reservoir (per-query scratch is not held);
 *   storage grows with what is held, up to the budget, so a huge budget allocates nothing up
 *   front. `stored` counts the token rows (indexed and reservoir); with the tables they hold
 *   fewer tokens than the budget's token count.
 * - Budgets: any form. The tables and the reservoir are sized once, from the smallest budget the
 *   cache will get (tables are halved until they fit with room for a few keys; `create` throws
 *   `InvalidBudgetError` naming the smallest budget when one table does not fit); the indexed part
 *   grows with a `{fraction}` budget.
 * - **Time** per query: L hashes + |candidates| + `sample` + reservoir scores, independent of
 *   the number of tokens seen (it only depends on the budget and the cell sizes).
 * - **Retention** (`retain`): `norm` keeps the keys of largest norm (a key heavy for some query
 *   needs a large ‖k‖·cos), `recent` keeps the latest ones. Keys that are heavy for a query but
 *   not retained are only seen through the reservoir: this is a heuristic, not a theorem.
 * - `tailFraction = 0` drops evicted keys entirely (biased, like a plain top-norm cache).
 * - **Weak inside a trained language model with the defaults** (measured, README): the keys a
 *   model attends to rarely collide with its query under 8-bit SimHash, so most of the mass is
 *   estimated from `sample` uniform draws (unbiased, very noisy), and `norm` retention evicts
 *   the recent tokens it relies on. `retain: 'recent'` with `sample` ≥ the indexed capacity
 *   (every indexed key scored) matches a sliding window there, at the cost of query time.
 * @see Charikar, Siminelakis, FOCS 2017 (hashing-based estimators); Han et al., "HyperAttention",
 *   ICLR 2024 (arXiv 2310.05869), for LSH retrieval of heavy entries plus sampled remainder.
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { lshPolicies } from '@kv/lsh';
 * const cache = new PolicyRegistry().register(...lshPolicies).create({
 *   policy: 'lsh-heavy', keyDim: 64, valueDim: 64, budget: 512, params: { hashes: 8, tables: 8 },
 * });
 * ```
 */
export class LshHeavyKeys extends BaseHeadCache {
  /** Size of the reservoir of evicted keys (T). */
  readonly tailCapacity: number;
  /** Non-candidate indexed keys scored per query. */
  readonly sampleSize: number;
  /** Retention rule of the indexed part. */
  readonly retain: RetainRule;
  /** Tables in use (the requested count, halved to fit a small budget). */
  readonly tableCount: number;
  private readonly tables: LshTables;
  private readonly store: SlotStore;
  private readonly heap: SlotMinHeap;
  private readonly tail: SlotStore | null;
  private reservoir: Reservoir;
  private rng: Rng;
  private stamp = new Int32Array(0);
  private list = new Int32Array(0);
  private readonly logits = new Float64Array(BLOCK);
  private readonly part: KernelSums;
  private readonly fixedBytes: number;
  private readonly indexedRowBytes: number;
  private evicted = 0;
  private epoch = 0;
  private readonly rowBytes: number;

  /**
   * @param spec - The spec; any budget form.
   * @throws `InvalidBudgetError` when the smallest budget cannot hold one table and a few keys;
   *   `InvalidParamsError` for bad parameters.
   */
  constructor(spec: PolicySpec) {
    super(spec);
    const { family, tables } = readFamilyParams(spec, { hashes: 8, tables: 8 });
    this.sampleSize = integerParam(spec.params, 'sample', { default: 32, min: 1 });
    const tailFraction = numberParam(spec.params, 'tailFraction', { default: 0.25, min: 0, max: 0.9 });
    this.retain = choiceParam(spec.params, 'retain', ['norm', 'recent'] as const, 'norm');
    const d = this.keyDim;
    const s = this.valueDim;
    const precision = parsePrecision(spec.params?.['precision'], 'lsh-heavy params');
    const rows = { seed: spec.seed ?? 0, ...(spec.params?.['precision'] === undefined ? {} : { precision }) };
    // Rows at their precision; a precision's residual and rotation signs are held per store.
    const probe = new SlotStore(d, s, rows);
    const rowBytes = probe.perRowBytes;
    const fit = fitTables('lsh-heavy', spec.budget, d, s, family, tables, 2 * probe.fixedBytes, rowBytes + 12, 2);
    this.tableCount = fit.tables;
    this.indexedRowBytes = rowBytes + 12 + fit.perItem;
    this.rowBytes = rowBytes;
    // The reservoir is sized once from the floor, leaving room for two indexed keys.
    const floor = floorBytes(spec.budget, d, s);
    const room = Math.min(floor, 2 ** 40) - fit.fixed - 2 * this.indexedRowBytes;
    const want = tailFraction > 0 ? Math.max(1, Math.floor((tailFraction * (floor - fit.fixed)) / rowBytes)) : 0;
    this.tailCapacity = Math.max(0, Math.min(want, Math.floor(room / rowBytes), 2 ** 28));
    this.fixedBytes = fit.fixed + 2 * probe.fixedBytes;
    const rng = new Rng(spec.seed ?? 0);
    const most = Math.min(2 ** 28, this.indexedCapacityAt(Infinity));
    this.tables = new LshTables(d, this.tableCount, fit.family, rng.fork(1), most, false, fit.direct);
    this.rng = rng.fork(2);
    this.store = new SlotStore(d, s, { maxSlots: storeLimit(most, rowBytes), ...rows });
    this.heap = new SlotMinHeap(most);
    this.tail = this.tailCapacity > 0 ? new SlotStore(d, s, { maxSlots: storeLimit(this.tailCapacity, rowBytes), initialSlots: Math.min(16, this.tailCapacity), ...rows }) : null;
    this.reservoir = new Reservoir(Math.max(1, this.tailCapacity), this.rng);
    this.part = createKernelSums(s);
  }

  /** Keys the indexed part may hold after `seen` tokens. */
  indexedCapacityAt(seen: number): number {
    const budget = Number.isFinite(seen) ? this.budgetBytesAt(seen) : maxBudgetBytes(this.spec.budget, this.keyDim, this.valueDim);
    const tailBytes = this.tailCapacity * this.rowBytes;
    return Math.max(0, Math.min(2 ** 28, Math.floor((budget - this.fixedBytes - tailBytes) / this.indexedRowBytes)));
  }

  /** Token rows held: indexed keys and the reservoir's (the tables are counted in `bytes`). */
  get stored(): number {
    return this.store.count + (this.tail?.count ?? 0);
  }

  protected override capacityAt(seen: number): number {
    return Math.ceil(this.budgetBytesAt(seen) / this.rowBytes);
  }

  /** Bytes held: tables, indexed rows, heap and reservoir. */
  override get bytes(): number {
    const n = this.store.count;
    return this.tables.heldBytes(n) + this.store.heldBytes + this.heap.heldBytes + (this.tail?.heldBytes ?? 0);
  }

  /** Keys indexed in the tables now. */
  get indexedCount(): number {
    return this.store.count;
  }

  /** Keys evicted from the index so far (represented by the reservoir). */
  get evictedCount(): number {
    return this.evicted;
  }

  /** Positions of the indexed keys, then of the reservoir's keys. */
  positions(): Int32Array {
    const a = this.store.positions();
    const b = this.tail ? this.tail.positions() : new Int32Array(0);
    const out = new Int32Array(a.length + b.length);
    out.set(a);
    out.set(b, a.length);
    return out;
  }

  /**
   * Positions of the candidate heavy keys of a query: the indexed keys sharing its cell in at
   * least one table (not a hot path: allocates the result).
   * @param query - Query of length d.
   * @returns The candidates' positions.
   * @throws `DimensionMismatchError` or `NonFiniteInputError` on a bad query.
   */
  retrieve(query: Float32Array): Int32Array {
    checkVector('query', query, this.keyDim);
    const count = this.collect(query);
    const out = new Int32Array(count);
    for (let i = 0; i < count; i++) out[i] = this.store.positionOf[this.list[i]!]!;
    return out;
  }

  protected onAppend(key: Float32Array, value: Float32Array, position: number): void {
    const score = this.retain === 'norm' ? Math.sqrt(dotUnit(this.keyDim, key, 0, key, 0)) : position;
    const store = this.store;
    if (store.count < this.indexedCapacityAt(position + 1)) {
      const slot = store.push(key, 0, value, 0, position, 0);
      this.tables.insert(slot, key, 0);
      this.heap.push(slot, score);
      this.ensureScratch(store.count);
      return;
    }
    if (store.count > 0 && score > this.heap.minScore()) {
      const slot = this.heap.minSlot();
      this.toTail(store, slot);
      this.tables.remove(slot);
      store.write(slot, key, 0, value, 0, position, 0);
      this.tables.insert(slot, key, 0);
      this.heap.replaceMin(score);
    } else {
      this.offerTail(key, value, position);
    }
  }

  protected onSums(query: Float32Array, out: KernelSums): KernelSums {
    clearSums(out);
    const count = this.store.count;
    const nc = this.collect(query);
    this.listSums(query, 0, nc, 0, out);
    const rest = count - nc;
    if (rest > 0) {
      const epoch = this.epoch;
      const sample = this.sampleSize;
      if (rest <= sample || (rest - sample) * 8 < count) {
        let k = nc;
        for (let i = 0; i < count; i++) if (this.stamp[i] !== epoch) this.list[k++] = i;
        this.listSums(query, nc, rest, 0, out);
      } else {
        let drawn = 0;
        while (drawn < sample) {
          const i = this.rng.int(count);
          if (this.stamp[i] === epoch) continue;
          this.stamp[i] = epoch;
          this.list[nc + drawn++] = i;
        }
        this.listSums(query, nc, sample, Math.log(rest / sample), out);
      }
    }
    if (this.tail && this.tail.count > 0) {
      this.tail.sums(query, this.tau, this.part);
      this.part.m += Math.log(this.evicted / this.tail.count);
      mergeSums(out, this.part);
    }
    return out;
  }

  protected onReset(): void {
    this.store.clear();
    this.tables.clear();
    this.heap.clear();
    this.tail?.clear();
    const rng = new Rng(this.spec.seed ?? 0);
    rng.fork(1);
    this.rng = rng.fork(2);
    this.reservoir = new Reservoir(Math.max(1, this.tailCapacity), this.rng);
    this.evicted = 0;
  }

  protected saveState(): CacheState {
    const n = this.store.count;
    const parts: Record<string, CacheState> = { tables: this.tables.state(n), store: this.store.state(), heap: this.heap.state() };
    if (this.tail) parts['tail'] = this.tail.state();
    return { scalars: { evicted: this.evicted, offered: this.reservoir.offered, rng: this.rng.getState() }, arrays: {}, parts };
  }

  protected restoreState(r: StateReader): void {
    const evicted = r.integer('evicted', 0, 2 ** 53);
    const offered = r.integer('offered', 0, 2 ** 53);
    const gen = new Rng(0);
    gen.setState(r.numbers('rng', 6));
    const store = r.part('store');
    const n = store.integer('count', 0, this.store.maxSlots);
    const heap = r.part('heap');
    if (heap.array('heap', Int32Array).length !== n) r.refuse('the heap does not hold every indexed key');
    this.store.loadState(store);
    this.tables.loadState(r.part('tables'), n);
    this.heap.loadState(heap);
    if (this.tail) this.tail.loadState(r.part('tail'));
    this.ensureScratch(n);
    this.evicted = evicted;
    this.rng = gen;
    this.reservoir = new Reservoir(Math.max(1, this.tailCapacity), this.rng);
    this.reservoir.offered = offered;
  }

  protected override describeSummary(): string {
    return `lsh-heavy: ${this.store.count} keys indexed in ${this.tableCount} tables (retain ${this.retain}), ${this.tail?.count ?? 0} of ${this.evicted} evicted keys in the reservoir`;
  }

  protected override describeStats(): Record<string, number | string | boolean> {
    return { indexed: this.store.count, tables: this.tableCount, evicted: this.evicted, tail: this.tail?.count ?? 0, tailCapacity: this.tailCapacity, precision: this.store.precisionLabel };
  }

  private ensureScratch(n: number): void {
    if (this.stamp.length >= n) return;
    const size = Math.min(this.store.maxSlots, Math.max(n, 2 * this.stamp.length, 16));
    const stamp = new Int32Array(size);
    stamp.set(this.stamp);
    this.stamp = stamp;
    this.list = new Int32Array(size);
  }

  // The evicted indexed key of `slot` joins the tail before its slot is overwritten.
  private toTail(store: SlotStore, slot: number): void {
    this.evicted++;
    const tail = this.tail;
    if (!tail) return;
    const at = this.reservoir.offer();
    if (at < 0) return;
    const k = this.scratchKey();
    const v = this.scratchValue();
    store.readKey(slot, k);
    store.readValue(slot, v);
    if (at === tail.count) tail.push(k, 0, v, 0, store.positionOf[slot]!, 0);
    else tail.write(at, k, 0, v, 0, store.positionOf[slot]!, 0);
  }

  private offerTail(key: Float32Array, value: Float32Array, position: number): void {
    this.evicted++;
    const tail = this.tail;
    if (!tail) return;
    const at = this.reservoir.offer();
    if (at < 0) return;
    if (at === tail.count) tail.push(key, 0, value, 0, position, 0);
    else tail.write(at, key, 0, value, 0, position, 0);
  }

  private keyScratch: Float32Array | null = null;
  private valueScratch: Float32Array | null = null;
  private scratchKey(): Float32Array {
    return (this.keyScratch ??= new Float32Array(this.keyDim));
  }
  private scratchValue(): Float32Array {
    return (this.valueScratch ??= new Float32Array(this.valueDim));
  }

  /** Hashes the query and gathers the distinct candidates into `list[0 … count)`, stamped. */
  private collect(query: Float32Array): number {
    if (++this.epoch >= 0x7fffffff) {
      this.stamp.fill(0);
      this.epoch = 1;
    }
    const epoch = this.epoch;
    const tables = this.tables;
    tables.hashQuery(query);
    let nc = 0;
    for (let t = 0; t < tables.tables; t++) {
      const next = tables.indexes[t]!.next;
      for (let i = tables.head(t); i >= 0; i = next[i]!) {
        if (this.stamp[i] === epoch) continue;
        this.stamp[i] = epoch;
        this.list[nc++] = i;
      }
    }
    return nc;
  }

  /** Merges into `out` the sums of the indexed slots list[start … start+len), each logit + bias. */
  private listSums(query: Float32Array, start: number, len: number, bias: number, out: KernelSums): void {
    const s = this.valueDim;
    const store = this.store;
    const logits = this.logits;
    const part = this.part;
    const v = this.scratchValue();
    for (let b = 0; b < len; b += BLOCK) {
      const n = Math.min(BLOCK, len - b);
      let m = -Infinity;
      for (let i = 0; i < n; i++) {
        const l = this.tau * store.keyDot(this.list[start + b + i]!, query) + bias;
        logits[i] = l;
        if (l > m) m = l;
      }
      part.n.fill(0);
      let z = 0;
      for (let i = 0; i < n; i++) {
        const w = Math.exp(logits[i]! - m);
        z += w;
        store.readValue(this.list[start + b + i]!, v);
        for (let j = 0; j < s; j++) part.n[j] += w * v[j]!;
      }
      part.m = m;
      part.z = z;
      mergeSums(out, part);
    }
  }
}

/**
 * Registry entry of {@link LshHeavyKeys} (`"lsh-heavy"`).
 *
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { lshHeavyPolicy } from '@kv/lsh';
 * new PolicyRegistry().register(lshHeavyPolicy);
 * ```
 */
export const lshHeavyPolicy: PolicyDefinition = {
  name: 'lsh-heavy',
  summary:
    'Budgeted keys indexed in LSH tables: exact attention on the query’s colliding keys, an unbiased weighted sample for the rest (indexed and evicted); query time independent of n.',
  params: [
    ...familyParams({ hashes: 8, tables: 8 }),
    { name: 'sample', type: 'integer', default: 32, description: 'Non-candidate indexed keys scored per query (uniform, inverse-probability weighted).' },
    { name: 'tailFraction', type: 'number', default: 0.25, description: 'Share of the budget for the reservoir of evicted keys (0 drops them: biased).' },
    { name: 'retain', type: 'string', default: 'norm', description: 'Which keys stay indexed when full: norm (largest ‖k‖) | recent.' },
    precisionParam,
  ],
  budget: 'required',
  create: (spec) => new LshHeavyKeys(spec),
};
