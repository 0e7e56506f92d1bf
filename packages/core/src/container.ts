import type { Budget, HeadCache, PolicyRegistryLike, PolicySpec } from './contract.js';
import { DimensionMismatchError, InvalidParamsError } from './errors.js';
import { AttendPool, readResult } from './kernels/attend-pool.js';
import { mixSeed } from './rng.js';
import type { SlotStore } from './slot-store.js';
import { createKernelSums, type KernelSums } from './sums.js';
import { checkRows, checkVector } from './validate.js';

/**
 * A head cache whose attention is exactly the kernel sums of one {@link SlotStore} with logit
 * scale τ, and attending changes nothing in it (exact caches, windows, StreamingLLM, K-norm,
 * random eviction: policies with no per-query state). `ModelCache` with `threads` answers such
 * heads on worker threads, reading the store's rows in shared memory; other heads (H2O, TOVA,
 * SnapKV update scores when they attend; summaries and combinators hold no single store) are
 * answered on the main thread.
 *
 * @example
 * ```ts
 * import { BaseHeadCache, SlotStore, type CacheState, type KernelSums, type StoreAttention } from '@kv/core';
 * class Window extends BaseHeadCache implements StoreAttention {
 *   private store = new SlotStore(this.keyDim, this.valueDim, { maxSlots: 64 });
 *   get stored() { return this.store.count; }
 *   attendStore() { return { store: this.store, tau: this.tau }; }
 *   protected onAppend(k: Float32Array, v: Float32Array, p: number) {
 *     if (this.store.count === 64) this.store.removeSwap(0);
 *     this.store.push(k, 0, v, 0, p, 0);
 *   }
 *   protected onSums(q: Float32Array, out: KernelSums) { return this.store.sums(q, this.tau, out); }
 *   protected onReset() { this.store.clear(); }
 *   protected saveState(): CacheState { return { scalars: {}, arrays: {}, parts: { store: this.store.state() } }; }
 *   protected restoreState(): void {}
 * }
 * ```
 */
export interface StoreAttention {
  /** The store and τ whose kernel sums are this head's attention (null: not now). */
  attendStore(): {
    /** The store whose rows are attended. */
    readonly store: SlotStore;
    /** The logit scale τ to attend with. */
    readonly tau: number;
  } | null;
}

function storeAttention(head: HeadCache): { readonly store: SlotStore; readonly tau: number } | null {
  const f = (head as Partial<StoreAttention>).attendStore;
  return typeof f === 'function' ? f.call(head) : null;
}

/**
 * A policy choice without dimensions: the container fills in d, s, τ and a per-head seed.
 *
 * @example
 * ```ts
 * import type { PolicyChoice } from '@kv/core';
 * const choice: PolicyChoice = { policy: 'exact', seed: 7 };
 * ```
 */
export type PolicyChoice = Omit<PolicySpec, 'keyDim' | 'valueDim' | 'tau'>;

/**
 * Options of a {@link ModelCache}.
 *
 * @example
 * ```ts
 * import { ModelCache, PolicyRegistry, exactPolicy, type ModelCacheOptions } from '@kv/core';
 * const options: ModelCacheOptions = {
 *   layers: 4, kvHeads: 2, queryHeads: 8, keyDim: 64, valueDim: 64,
 *   policy: { policy: 'exact' }, registry: new PolicyRegistry().register(exactPolicy),
 * };
 * const cache = new ModelCache(options);
 * ```
 */
export interface ModelCacheOptions {
  /** Number of layers. */
  readonly layers: number;
  /** Number of KV heads per layer. */
  readonly kvHeads: number;
  /** Number of query heads per layer (a multiple of `kvHeads`; default `kvHeads`). */
  readonly queryHeads?: number;
  /** Key dimension per head. */
  readonly keyDim: number;
  /** Value dimension per head. */
  readonly valueDim: number;
  /** Logit scale (default 1/√keyDim). */
  readonly tau?: number;
  /** One policy for every head, or a function choosing it per (layer, KV head). */
  readonly policy?: PolicyChoice | ((layer: number, kvHead: number) => PolicyChoice);
  /**
   * Builds the cache of each (layer, KV head) yourself, instead of `policy` and `registry`
   * (restored snapshots, or heads of one layer that share state such as a common budget).
   * Called in layer order, head after head.
   */
  readonly caches?: (layer: number, kvHead: number) => HeadCache;
  /**
   * Budgets overriding the policy's: one per layer (PyramidKV), or a function of (layer, KV head)
   * (AdaKV-style per-head budgets; return undefined to keep the policy's own).
   */
  readonly budgets?: readonly (Budget | undefined)[] | ((layer: number, kvHead: number) => Budget | undefined);
  /** Base seed; each head gets `mixSeed(seed, layer, head)` (default 0). */
  readonly seed?: number;
  /** Registry that builds the per-head caches (required with `policy`). */
  readonly registry?: PolicyRegistryLike;
  /**
   * Threads `attend` may use (default 1): with n > 1, n − 1 worker threads answer the KV heads
   * that implement {@link StoreAttention}, reading their rows in shared WebAssembly memory, while
   * the main thread answers the rest; each KV head's query heads stay on one thread. Answers are
   * bit-identical to one thread. Node only (worker_threads and shared memory); elsewhere, and for
   * heads below 256 rows or stores the kernels do not read (channel-wise key groups), the main
   * thread answers. Call {@link ModelCache.close} to stop the workers (idle ones never keep the
   * process alive).
   */
  readonly threads?: number;
}

/**
 * The model-level container: one {@link HeadCache} per (layer, KV head), grouped-query attention
 * mapping query heads onto KV heads, and per-layer or per-head budgets.
 *
 * Layouts are token-major as a model produces them: a layer's keys for one token are
 * `kvHeads·d` floats (head after head), its queries `queryHeads·d`.
 *
 * @example
 * ```ts
 * import { ModelCache, PolicyRegistry, exactPolicy } from '@kv/core';
 * const cache = new ModelCache({
 *   layers: 2, kvHeads: 1, queryHeads: 2, keyDim: 4, valueDim: 4,
 *   policy: { policy: 'exact' }, registry: new PolicyRegistry().register(exactPolicy),
 * });
 * cache.append(0, new Float32Array(4), new Float32Array(4));
 * cache.attend(0, new Float32Array(8), new Float32Array(8));
 * ```
 */
export class ModelCache {
  /** Number of layers. */
  readonly layers: number;
  /** KV heads per layer. */
  readonly kvHeads: number;
  /** Query heads per layer. */
  readonly queryHeads: number;
  /** Query heads sharing one KV head. */
  readonly groupSize: number;
  /** Key dimension per head. */
  readonly keyDim: number;
  /** Value dimension per head. */
  readonly valueDim: number;
  private readonly heads: HeadCache[];
  // Per-head scratch rows: copying d floats is cheaper than a subarray view object per call,
  // and keeps append/attend allocation-free.
  private readonly keyRow: Float32Array;
  private readonly valueRow: Float32Array;
  private pool: AttendPool | null = null;
  // Per query head of a threaded attend: the worker (−1: main thread), the result slot, the store.
  private readonly jobWorker: Int32Array;
  private readonly jobSlot: Int32Array;
  private readonly jobStore: (SlotStore | null)[];
  private readonly jobSums: KernelSums;

  /**
   * @param options - Shape, policy choice, budgets and registry.
   * @throws {@link InvalidParamsError} on an inconsistent shape; any error of the registry.
   */
  constructor(options: ModelCacheOptions) {
    const { layers, kvHeads, keyDim, valueDim } = options;
    const queryHeads = options.queryHeads ?? kvHeads;
    for (const [name, v] of Object.entries({ layers, kvHeads, queryHeads, keyDim, valueDim })) {
      if (!Number.isInteger(v) || v < 1) throw new InvalidParamsError(`${name} is ${v}, expected an integer >= 1`);
    }
    if (queryHeads % kvHeads !== 0) {
      throw new InvalidParamsError(`queryHeads (${queryHeads}) must be a multiple of kvHeads (${kvHeads})`);
    }
    if (Array.isArray(options.budgets) && options.budgets.length !== layers) {
      throw new InvalidParamsError(`budgets has ${options.budgets.length} entries, expected one per layer (${layers})`);
    }
    this.layers = layers;
    this.kvHeads = kvHeads;
    this.queryHeads = queryHeads;
    this.groupSize = queryHeads / kvHeads;
    this.keyDim = keyDim;
    this.valueDim = valueDim;
    this.keyRow = new Float32Array(keyDim);
    this.valueRow = new Float32Array(valueDim);
    this.jobWorker = new Int32Array(queryHeads);
    this.jobSlot = new Int32Array(queryHeads);
    this.jobStore = new Array<SlotStore | null>(queryHeads).fill(null);
    this.jobSums = createKernelSums(valueDim);
    const threads = options.threads ?? 1;
    if (!Number.isInteger(threads) || threads < 1) throw new InvalidParamsError(`threads is ${threads}, expected an integer >= 1`);
    if (threads > 1) this.pool = AttendPool.start(threads - 1);
    this.heads = [];
    if (options.caches !== undefined) {
      for (let l = 0; l < layers; l++) {
        for (let h = 0; h < kvHeads; h++) {
          const c = options.caches(l, h);
          if (c.keyDim !== keyDim || c.valueDim !== valueDim) {
            throw new InvalidParamsError(`cache of head (${l}, ${h}) has dimensions ${c.keyDim}x${c.valueDim}, expected ${keyDim}x${valueDim}`);
          }
          this.heads.push(c);
        }
      }
      return;
    }
    if (options.policy === undefined || options.registry === undefined) {
      throw new InvalidParamsError('a ModelCache needs `policy` and `registry`, or `caches`');
    }
    for (let l = 0; l < layers; l++) {
      for (let h = 0; h < kvHeads; h++) {
        const choice = typeof options.policy === 'function' ? options.policy(l, h) : options.policy;
        const budgets = options.budgets;
        const override = budgets === undefined ? undefined : typeof budgets === 'function' ? budgets(l, h) : budgets[l];
        const spec: PolicySpec = {
          ...choice,
          keyDim,
          valueDim,
          ...(options.tau !== undefined ? { tau: options.tau } : {}),
          seed: mixSeed(choice.seed ?? options.seed ?? 0, l, h),
          ...(override !== undefined ? { budget: override } : {}),
        };
        this.heads.push(options.registry.create(spec));
      }
    }
  }

  /**
   * The cache of one (layer, KV head).
   * @param layer - Layer index.
   * @param kvHead - KV head index.
   * @returns The head cache.
   * @throws {@link InvalidParamsError} for a layer or KV head outside the cache.
   */
  head(layer: number, kvHead: number): HeadCache {
    const c = this.heads[layer * this.kvHeads + kvHead];
    if (!c) throw new InvalidParamsError(`no head (${layer}, ${kvHead}) in a ${this.layers}x${this.kvHeads} cache`);
    return c;
  }

  /**
   * The KV head a query head reads (GQA: consecutive query heads share a KV head).
   * @param queryHead - Query head index.
   * @returns The KV head index.
   */
  kvHeadOf(queryHead: number): number {
    return Math.floor(queryHead / this.groupSize);
  }

  /** Tokens seen (by layer 0, head 0; all heads see the same stream). */
  get seen(): number {
    return this.heads[0]!.seen;
  }

  /** Total bytes held by every head. */
  get bytes(): number {
    let b = 0;
    for (const h of this.heads) b += h.bytes;
    return b;
  }

  /** Total stored token-equivalents over every head. */
  get stored(): number {
    let b = 0;
    for (const h of this.heads) b += h.stored;
    return b;
  }

  /**
   * Appends one token's keys and values to every KV head of a layer.
   * @param layer - Layer index.
   * @param keys - `kvHeads·d` floats.
   * @param values - `kvHeads·s` floats.
   * @throws {@link DimensionMismatchError} or {@link NonFiniteInputError}; no head changes then.
   *   {@link InvalidParamsError} for a layer outside the cache (before any head changes).
   */
  append(layer: number, keys: Float32Array, values: Float32Array): void {
    const d = this.keyDim;
    const s = this.valueDim;
    // Validate the whole token first, so a bad head leaves every head unchanged.
    checkVector('keys', keys, this.kvHeads * d);
    checkVector('values', values, this.kvHeads * s);
    for (let h = 0; h < this.kvHeads; h++) {
      for (let j = 0; j < d; j++) this.keyRow[j] = keys[h * d + j]!;
      for (let j = 0; j < s; j++) this.valueRow[j] = values[h * s + j]!;
      this.head(layer, h).append(this.keyRow, this.valueRow);
    }
  }

  /**
   * Prefills a layer with many tokens; each KV head also receives the observation queries of
   * its GQA group (rows of all its query heads, for SnapKV's group mean).
   * @param layer - Layer index.
   * @param keys - Token-major keys, T·kvHeads·d.
   * @param values - Token-major values, T·kvHeads·s.
   * @param queries - Optional token-major observation queries, W·queryHeads·d.
   * @throws {@link DimensionMismatchError} when keys, values or queries are not whole rows, or keys
   *   and values hold different token counts; {@link NonFiniteInputError} for NaN or Infinity
   *   (both before any head changes); {@link InvalidParamsError} for a layer outside the cache.
   */
  prefill(layer: number, keys: Float32Array, values: Float32Array, queries?: Float32Array): void {
    const d = this.keyDim;
    const s = this.valueDim;
    const T = checkRows('keys', keys, this.kvHeads * d);
    const Tv = checkRows('values', values, this.kvHeads * s);
    if (T !== Tv) throw new DimensionMismatchError('values', values.length, T * this.kvHeads * s);
    const W = queries ? checkRows('queries', queries, this.queryHeads * d) : 0;
    for (let h = 0; h < this.kvHeads; h++) {
      const k = new Float32Array(T * d);
      const v = new Float32Array(T * s);
      for (let t = 0; t < T; t++) {
        k.set(keys.subarray((t * this.kvHeads + h) * d, (t * this.kvHeads + h + 1) * d), t * d);
        v.set(values.subarray((t * this.kvHeads + h) * s, (t * this.kvHeads + h + 1) * s), t * s);
      }
      let q: Float32Array | undefined;
      if (queries) {
        q = new Float32Array(W * this.groupSize * d);
        for (let t = 0; t < W; t++) {
          for (let g = 0; g < this.groupSize; g++) {
            const qh = h * this.groupSize + g;
            q.set(queries.subarray((t * this.queryHeads + qh) * d, (t * this.queryHeads + qh + 1) * d), (t * this.groupSize + g) * d);
          }
        }
      }
      this.head(layer, h).prefill(k, v, q);
    }
  }

  /**
   * Answers every query head of a layer from its KV head's cache.
   * @param layer - Layer index.
   * @param queries - `queryHeads·d` floats.
   * @param out - Receives `queryHeads·s` floats.
   * @returns `out`.
   * @throws {@link DimensionMismatchError} for queries or `out` of the wrong length;
   *   {@link NonFiniteInputError} for NaN or Infinity in the queries; {@link InvalidParamsError}
   *   for a layer outside the cache.
   */
  attend(layer: number, queries: Float32Array, out: Float32Array): Float32Array {
    const d = this.keyDim;
    const s = this.valueDim;
    checkVector('queries', queries, this.queryHeads * d);
    if (out.length !== this.queryHeads * s) throw new DimensionMismatchError('output', out.length, this.queryHeads * s);
    if (this.pool !== null) return this.attendThreaded(this.pool, layer, queries, out);
    for (let qh = 0; qh < this.queryHeads; qh++) this.attendHead(layer, qh, queries, out);
    return out;
  }

  private attendHead(layer: number, qh: number, queries: Float32Array, out: Float32Array): void {
    const d = this.keyDim;
    for (let j = 0; j < d; j++) this.keyRow[j] = queries[qh * d + j]!;
    this.head(layer, this.kvHeadOf(qh)).attend(this.keyRow, this.valueRow);
    out.set(this.valueRow, qh * this.valueDim);
  }

  // KV head h goes to thread h mod T (0: the main thread) when a worker can answer it; its query
  // heads' jobs are written first, the main thread answers its share while the workers run.
  private attendThreaded(pool: AttendPool, layer: number, queries: Float32Array, out: Float32Array): Float32Array {
    const d = this.keyDim;
    const s = this.valueDim;
    const workers = pool.workers;
    const T = workers.length + 1;
    for (const w of workers) w.reset();
    for (let h = 0; h < this.kvHeads; h++) {
      const t = h % T;
      const target = t > 0 ? storeAttention(this.head(layer, h)) : null;
      const shared = target !== null && target.store.share();
      for (let g = 0; g < this.groupSize; g++) {
        const qh = h * this.groupSize + g;
        this.jobWorker[qh] = -1;
        if (!shared) continue;
        for (let j = 0; j < d; j++) this.keyRow[j] = queries[qh * d + j]!;
        const slot = target.store.threadJob(this.keyRow, target.tau, pool, workers[t - 1]!);
        if (slot < 0) continue;
        this.jobWorker[qh] = t - 1;
        this.jobSlot[qh] = slot;
        this.jobStore[qh] = target.store;
      }
    }
    for (const w of workers) if (w.count > 0) w.post();
    for (let qh = 0; qh < this.queryHeads; qh++) if (this.jobWorker[qh]! < 0) this.attendHead(layer, qh, queries, out);
    for (const w of workers) if (w.count > 0) w.wait();
    const sums = this.jobSums;
    for (let qh = 0; qh < this.queryHeads; qh++) {
      const w = this.jobWorker[qh]!;
      if (w < 0) continue;
      readResult(workers[w]!.jobs, this.jobSlot[qh]!, sums);
      this.jobStore[qh]!.finishThreadJob(sums);
      const inv = 1 / sums.z;
      for (let j = 0; j < s; j++) out[qh * s + j] = sums.m === -Infinity ? 0 : sums.n[j]! * inv;
      this.jobStore[qh] = null;
    }
    return out;
  }

  /** Stops the worker threads of `threads` (attend then runs on the main thread). */
  close(): void {
    this.pool?.close();
    this.pool = null;
  }

  /** Resets every head. */
  reset(): void {
    for (const h of this.heads) h.reset();
  }
}
