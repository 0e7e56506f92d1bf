import {
  BaseHeadCache,
  checkVector,
  choiceParam,
  clearSums,
  createKernelSums,
  dotUnit,
  fixedBudget,
  InvalidBudgetError,
  integerParam,
  type KernelSums,
  mergeSums,
  numberParam,
  type PolicyDefinition,
  type PolicySpec,
  Reservoir,
  Rng,
  SlotStore,
} from '@kv/core';
import { createFamily, type FamilyOptions } from './family.js';
import { SlotMinHeap } from './min-heap.js';
import { familyParams, readFamilyParams } from './params.js';
import { LshTables, tableIndexBytes } from './tables.js';

const BLOCK = 256;

interface HeavyState {
  readonly tables: LshTables;
  readonly store: SlotStore;
  readonly heap: SlotMinHeap;
  readonly stamp: Int32Array;
  readonly list: Int32Array;
  readonly tail: SlotStore | null;
  readonly reservoir: Reservoir;
  readonly rng: Rng;
  readonly logits: Float64Array;
  readonly part: KernelSums;
}

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
 * - **Memory is honest**: `bytes` counts the keys, values, the tables (their functions and
 *   bucket indexes), the heap, the reservoir and the scratch; `stored = ⌈bytes / 4(d+s)⌉` never
 *   exceeds the budget, so fewer tokens fit than the budget's token count.
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
  /** Keys the indexed part holds at most (H). */
  readonly indexedCapacity: number;
  /** Size of the reservoir of evicted keys (T). */
  readonly tailCapacity: number;
  /** Non-candidate indexed keys scored per query. */
  readonly sampleSize: number;
  /** Retention rule of the indexed part. */
  readonly retain: RetainRule;
  private readonly family: FamilyOptions;
  private readonly tableCount: number;
  private state: HeavyState | null = null;
  private evicted = 0;
  private epoch = 0;

  /**
   * @param spec - The spec; needs a fixed token budget.
   * @throws `InvalidBudgetError` when the budget is missing, a ratio, or too small for the
   *   tables plus one key; `InvalidParamsError` for bad parameters.
   */
  constructor(spec: PolicySpec) {
    super(spec);
    const budget = fixedBudget(spec, 'lsh-heavy');
    const { family, tables } = readFamilyParams(spec, { hashes: 8, tables: 8 });
    this.family = family;
    this.tableCount = tables;
    this.sampleSize = integerParam(spec.params, 'sample', { default: 32, min: 1 });
    const tailFraction = numberParam(spec.params, 'tailFraction', { default: 0.25, min: 0, max: 0.9 });
    this.retain = choiceParam(spec.params, 'retain', ['norm', 'recent'] as const, 'norm');
    const d = this.keyDim;
    const s = this.valueDim;
    const probe = createFamily(d, family, new Rng(0));
    const familyBytes = probe.buffers().reduce((a, b) => a + b.byteLength, 0);
    const rowBytes = 4 * (d + s) + 4;
    const fixed = tables * familyBytes + 8 * BLOCK + 8 * s;
    const total = budget * 4 * (d + s);
    const avail = total - fixed;
    const tail = tailFraction > 0 ? Math.max(1, Math.floor((tailFraction * avail) / rowBytes)) : 0;
    const room = avail - tail * rowBytes;
    const need = (h: number): number => h * (rowBytes + 20) + tableIndexBytes(tables, h, probe.buckets);
    let lo = 0;
    let hi = Math.max(0, Math.floor(room / rowBytes));
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (need(mid) <= room) lo = mid;
      else hi = mid - 1;
    }
    if (lo < 1) {
      const perToken = 4 * (d + s);
      const minimum = Math.ceil((fixed + need(1) + (tailFraction > 0 ? rowBytes : 0)) / perToken);
      throw new InvalidBudgetError(
        `lsh-heavy: budget ${budget} tokens cannot hold its ${tables} tables and one key; need at least ${minimum} (fewer tables or hashes lower it)`,
      );
    }
    this.indexedCapacity = lo;
    this.tailCapacity = tail;
  }

  /** Token-equivalents of every byte held: ⌈bytes / 4(d+s)⌉. */
  get stored(): number {
    return Math.ceil(this.bytes / (4 * (this.keyDim + this.valueDim)));
  }

  /** Keys indexed in the tables now. */
  get indexedCount(): number {
    return this.state?.store.count ?? 0;
  }

  /** Keys evicted from the index so far (represented by the reservoir). */
  get evictedCount(): number {
    return this.evicted;
  }

  /** Every typed array held (none before the first token). */
  buffers(): readonly ArrayBufferView[] {
    const st = this.state;
    if (!st) return [];
    const out: ArrayBufferView[] = [
      ...st.tables.buffers(),
      ...st.store.buffers(),
      ...st.heap.buffers(),
      st.stamp,
      st.list,
      st.logits,
      st.part.n,
    ];
    if (st.tail) out.push(...st.tail.buffers());
    return out;
  }

  /** Positions of the indexed keys, then of the reservoir's keys. */
  positions(): Int32Array {
    const st = this.state;
    if (!st) return new Int32Array(0);
    const a = st.store.positions();
    const b = st.tail ? st.tail.positions() : new Int32Array(0);
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
    const st = this.state;
    if (!st) return new Int32Array(0);
    const count = this.collect(st, query);
    const out = new Int32Array(count);
    for (let i = 0; i < count; i++) out[i] = st.store.positionOf[st.list[i]!]!;
    return out;
  }

  protected onAppend(key: Float32Array, value: Float32Array, position: number): void {
    const st = this.state ?? this.materialize();
    const score = this.retain === 'norm' ? Math.sqrt(dotUnit(this.keyDim, key, 0, key, 0)) : position;
    const store = st.store;
    if (store.count < this.indexedCapacity) {
      const slot = store.push(key, 0, value, 0, position, 0);
      st.tables.insert(slot, key, 0);
      st.heap.push(slot, score);
      return;
    }
    if (score > st.heap.minScore()) {
      const slot = st.heap.minSlot();
      this.toTail(st, store.keys, slot * this.keyDim, store.values, slot * this.valueDim, store.positionOf[slot]!);
      st.tables.remove(slot);
      store.write(slot, key, 0, value, 0, position, 0);
      st.tables.insert(slot, key, 0);
      st.heap.replaceMin(score);
    } else {
      this.toTail(st, key, 0, value, 0, position);
    }
  }

  protected onSums(query: Float32Array, out: KernelSums): KernelSums {
    const st = this.state!;
    clearSums(out);
    const count = st.store.count;
    const nc = this.collect(st, query);
    this.listSums(st, query, 0, nc, 0, out);
    const rest = count - nc;
    if (rest > 0) {
      const epoch = this.epoch;
      const sample = this.sampleSize;
      if (rest <= sample || (rest - sample) * 8 < count) {
        let k = nc;
        for (let i = 0; i < count; i++) if (st.stamp[i] !== epoch) st.list[k++] = i;
        this.listSums(st, query, nc, rest, 0, out);
      } else {
        let drawn = 0;
        while (drawn < sample) {
          const i = st.rng.int(count);
          if (st.stamp[i] === epoch) continue;
          st.stamp[i] = epoch;
          st.list[nc + drawn++] = i;
        }
        this.listSums(st, query, nc, sample, Math.log(rest / sample), out);
      }
    }
    if (st.tail && st.tail.count > 0) {
      st.tail.sums(query, this.tau, st.part);
      st.part.m += Math.log(this.evicted / st.tail.count);
      mergeSums(out, st.part);
    }
    return out;
  }

  protected onReset(): void {
    this.state = null;
    this.evicted = 0;
    this.epoch = 0;
  }

  private materialize(): HeavyState {
    const rng = new Rng(this.spec.seed ?? 0);
    const H = this.indexedCapacity;
    const T = this.tailCapacity;
    const d = this.keyDim;
    const s = this.valueDim;
    const draws = rng.fork(2);
    const st: HeavyState = {
      tables: new LshTables(d, this.tableCount, this.family, rng.fork(1), H),
      store: new SlotStore(d, s, { maxSlots: H, initialSlots: H }),
      heap: new SlotMinHeap(H),
      stamp: new Int32Array(H),
      list: new Int32Array(H),
      tail: T > 0 ? new SlotStore(d, s, { maxSlots: T, initialSlots: T }) : null,
      reservoir: new Reservoir(Math.max(1, T), draws),
      rng: draws,
      logits: new Float64Array(BLOCK),
      part: createKernelSums(s),
    };
    this.state = st;
    return st;
  }

  private toTail(st: HeavyState, k: ArrayLike<number>, ko: number, v: ArrayLike<number>, vo: number, position: number): void {
    this.evicted++;
    const tail = st.tail;
    if (!tail) return;
    const slot = st.reservoir.offer();
    if (slot < 0) return;
    if (slot === tail.count) tail.push(k, ko, v, vo, position, 0);
    else tail.write(slot, k, ko, v, vo, position, 0);
  }

  /** Hashes the query and gathers the distinct candidates into `list[0 … count)`, stamped. */
  private collect(st: HeavyState, query: Float32Array): number {
    if (++this.epoch >= 0x7fffffff) {
      st.stamp.fill(0);
      this.epoch = 1;
    }
    const epoch = this.epoch;
    const tables = st.tables;
    tables.hashQuery(query);
    let nc = 0;
    for (let t = 0; t < tables.tables; t++) {
      const next = tables.indexes[t]!.next;
      for (let i = tables.head(t); i >= 0; i = next[i]!) {
        if (st.stamp[i] === epoch) continue;
        st.stamp[i] = epoch;
        st.list[nc++] = i;
      }
    }
    return nc;
  }

  /** Merges into `out` the sums of the indexed slots list[start … start+len), each logit + bias. */
  private listSums(st: HeavyState, query: Float32Array, start: number, len: number, bias: number, out: KernelSums): void {
    const d = this.keyDim;
    const s = this.valueDim;
    const keys = st.store.keys;
    const vals = st.store.values;
    const logits = st.logits;
    const part = st.part;
    for (let b = 0; b < len; b += BLOCK) {
      const n = Math.min(BLOCK, len - b);
      let m = -Infinity;
      for (let i = 0; i < n; i++) {
        const l = this.tau * dotUnit(d, keys, st.list[start + b + i]! * d, query, 0) + bias;
        logits[i] = l;
        if (l > m) m = l;
      }
      part.n.fill(0);
      let z = 0;
      for (let i = 0; i < n; i++) {
        const w = Math.exp(logits[i]! - m);
        z += w;
        const row = st.list[start + b + i]! * s;
        for (let j = 0; j < s; j++) part.n[j] += w * vals[row + j]!;
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
  ],
  budget: 'required',
  create: (spec) => new LshHeavyKeys(spec),
};
