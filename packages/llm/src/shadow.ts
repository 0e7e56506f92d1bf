import { type ExactCache, ModelCache, type ModelCacheOptions, nrm2 } from '@kv/core';
import { exactRegistry } from './model.js';

/**
 * Attention error of a policy on a model's own query/key/value stream, gathered by {@link ShadowedCache}.
 *
 * @example
 * ```ts
 * import { exactPolicy, PolicyRegistry } from '@kv/core';
 * import { heuristicPolicies } from '@kv/heuristics';
 * import { ShadowedCache, type AttentionErrors } from '@kv/llm';
 * import { loadModel } from '@kv/llm/node';
 * const MODEL_PATH = '../shared/models/tinyllama-bytes.bin';
 * const model = await loadModel(MODEL_PATH);
 * const registry = new PolicyRegistry().register(exactPolicy, ...heuristicPolicies);
 * const cache = new ShadowedCache(model.cacheOptions({ policy: 'sliding-window' }, { registry, budget: 64 }));
 * const decoder = model.decoder(cache);
 * for (const byte of new TextEncoder().encode('Let there be light: and there was light. '.repeat(4))) decoder.step(byte);
 * const errors: AttentionErrors = cache.errors();
 * console.log(Math.max(...errors.stepRelative), errors.keyRadius);
 * ```
 */
export interface AttentionErrors {
  /** ‖z − Attn‖ / ‖Attn‖ of every answered query (layer, query head, position). */
  readonly relative: Float64Array;
  /** ‖z − Attn‖ / (‖softmax‖·‖V‖_F) of every answered query. */
  readonly normalized: Float64Array;
  /** Mean relative error over all layers and query heads at each position. */
  readonly stepRelative: Float64Array;
  /** Mean normalised error over all layers and query heads at each position. */
  readonly stepNormalized: Float64Array;
  /** Positions of `stepRelative` / `stepNormalized`. */
  readonly steps: Int32Array;
  /** Largest key norm appended (post-RoPE; RoPE preserves norms), the workload radius r. */
  readonly keyRadius: number;
  /** Mean time of the policy's `append` per token and layer, nanoseconds. */
  readonly appendNs: number;
  /** Mean time of the policy's `attend` per token and layer (all query heads), nanoseconds. */
  readonly attendNs: number;
}

class Growable {
  data = new Float64Array(256);
  length = 0;
  push(x: number): void {
    if (this.length === this.data.length) {
      const next = new Float64Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = x;
  }
  view(): Float64Array {
    return this.data.slice(0, this.length);
  }
}

/**
 * A `ModelCache` that also keeps an exact shadow of every (layer, KV head) fed with the same
 * keys and values, and scores each answer of the policy against the exact answer to the same
 * query: the attention error of the policy on the model's own stream (the policy model's
 * trajectory, so errors do not compound through a second model).
 *
 * @example
 * ```ts
 * import { exactPolicy, PolicyRegistry } from '@kv/core';
 * import { heuristicPolicies } from '@kv/heuristics';
 * import { ShadowedCache } from '@kv/llm';
 * import { loadModel } from '@kv/llm/node';
 * const MODEL_PATH = '../shared/models/tinyllama-bytes.bin';
 * const model = await loadModel(MODEL_PATH);
 * const registry = new PolicyRegistry().register(exactPolicy, ...heuristicPolicies);
 * const cache = new ShadowedCache({ layers: 4, kvHeads: 3, queryHeads: 3, keyDim: 64, valueDim: 64,
 *   policy: { policy: 'sliding-window', budget: 128 }, registry });
 * const decoder = model.decoder(cache);
 * for (const byte of new TextEncoder().encode('And God saw the light, that it was good.')) decoder.step(byte);
 * cache.errors().relative; // one error per (layer, query head, position)
 * ```
 * @remarks Costs an exact cache and an exact attention per query head on top of the policy:
 * for evaluation, not serving. Timings cover the policy's own calls only.
 */
export class ShadowedCache extends ModelCache {
  /** The exact caches fed with the same stream. */
  readonly shadow: ModelCache;
  private readonly qRow: Float32Array;
  private readonly exactOut: Float32Array;
  private relative = new Growable();
  private normalized = new Growable();
  private stepRel = new Growable();
  private stepNorm = new Growable();
  private steps: number[] = [];
  private radius = 0;
  private appendTime = 0;
  private appendCalls = 0;
  private attendTime = 0;
  private attendCalls = 0;

  /**
   * @param options - As for `ModelCache`; the shadow uses the same shape with core's exact policy.
   * @throws Any error of `ModelCache`'s constructor.
   */
  constructor(options: ModelCacheOptions) {
    super(options);
    // The shadow takes only the shape: the policy's budgets, registry or prebuilt caches are not its own.
    const { layers, kvHeads, queryHeads, keyDim, valueDim, tau } = options;
    this.shadow = new ModelCache({
      layers,
      kvHeads,
      keyDim,
      valueDim,
      ...(queryHeads !== undefined ? { queryHeads } : {}),
      ...(tau !== undefined ? { tau } : {}),
      policy: { policy: 'exact' },
      registry: exactRegistry(),
    });
    this.qRow = new Float32Array(this.keyDim);
    this.exactOut = new Float32Array(this.valueDim);
  }

  /**
   * Appends to the policy and to the shadow.
   * @param layer - Layer index.
   * @param keys - `kvHeads·d` floats.
   * @param values - `kvHeads·s` floats.
   * @throws `DimensionMismatchError` or `NonFiniteInputError` (nothing changes then);
   *   `InvalidParamsError` for a layer outside the cache.
   */
  override append(layer: number, keys: Float32Array, values: Float32Array): void {
    const t0 = performance.now();
    super.append(layer, keys, values);
    this.appendTime += performance.now() - t0;
    this.appendCalls++;
    this.shadow.append(layer, keys, values);
    for (let h = 0; h < this.kvHeads; h++) this.radius = Math.max(this.radius, nrm2(this.keyDim, keys, 1, h * this.keyDim));
  }

  /**
   * Prefills the policy and the shadow.
   * @param layer - Layer index.
   * @param keys - Token-major keys.
   * @param values - Token-major values.
   * @param queries - Optional observation queries.
   * @throws `DimensionMismatchError` when keys, values or queries are not whole rows;
   *   `NonFiniteInputError` for NaN or Infinity; `InvalidParamsError` for a layer outside the cache.
   */
  override prefill(layer: number, keys: Float32Array, values: Float32Array, queries?: Float32Array): void {
    super.prefill(layer, keys, values, queries);
    this.shadow.prefill(layer, keys, values);
    const rows = keys.length / this.keyDim;
    for (let r = 0; r < rows; r++) this.radius = Math.max(this.radius, nrm2(this.keyDim, keys, 1, r * this.keyDim));
  }

  /**
   * Answers from the policy, then scores every query head against the shadow's exact answer.
   * @param layer - Layer index.
   * @param queries - `queryHeads·d` floats.
   * @param out - Receives the policy's `queryHeads·s` floats.
   * @returns `out`.
   * @throws `DimensionMismatchError` for queries or `out` of the wrong length;
   *   `NonFiniteInputError` for NaN or Infinity in the queries; `InvalidParamsError` for a layer
   *   outside the cache; `EmptyCacheError` before the first token.
   */
  override attend(layer: number, queries: Float32Array, out: Float32Array): Float32Array {
    const t0 = performance.now();
    super.attend(layer, queries, out);
    this.attendTime += performance.now() - t0;
    this.attendCalls++;
    const d = this.keyDim;
    const s = this.valueDim;
    const step = this.shadow.head(layer, 0).seen - 1;
    if (this.steps[this.steps.length - 1] !== step) {
      this.steps.push(step);
      this.stepRel.push(0);
      this.stepNorm.push(0);
    }
    const share = 1 / (this.layers * this.queryHeads);
    for (let qh = 0; qh < this.queryHeads; qh++) {
      for (let j = 0; j < d; j++) this.qRow[j] = queries[qh * d + j]!;
      const exact = this.shadow.head(layer, this.kvHeadOf(qh)) as ExactCache;
      // cannot throw: the policy's attend above refused an empty cache and bad queries; qRow is a Float32Array of d
      exact.attend(this.qRow, this.exactOut);
      let diff = 0;
      let ref = 0;
      for (let j = 0; j < s; j++) {
        const e = out[qh * s + j]! - this.exactOut[j]!;
        diff += e * e;
        ref += this.exactOut[j]! * this.exactOut[j]!;
      }
      diff = Math.sqrt(diff);
      const rel = ref > 0 ? diff / Math.sqrt(ref) : diff === 0 ? 0 : Infinity;
      const scale = exact.softmaxNorm(this.qRow) * exact.valueFrobeniusNorm;
      const norm = scale > 0 ? diff / scale : diff === 0 ? 0 : Infinity;
      this.relative.push(rel);
      this.normalized.push(norm);
      this.stepRel.data[this.stepRel.length - 1] += rel * share;
      this.stepNorm.data[this.stepNorm.length - 1] += norm * share;
    }
    return out;
  }

  /** Resets the policy, the shadow and the gathered errors. */
  override reset(): void {
    super.reset();
    this.shadow.reset();
    this.relative = new Growable();
    this.normalized = new Growable();
    this.stepRel = new Growable();
    this.stepNorm = new Growable();
    this.steps = [];
    this.radius = 0;
    this.appendTime = this.attendTime = 0;
    this.appendCalls = this.attendCalls = 0;
  }

  /**
   * The errors gathered so far.
   * @returns Copies of the per-query and per-step errors, the key radius and the timings.
   */
  errors(): AttentionErrors {
    return {
      relative: this.relative.view(),
      normalized: this.normalized.view(),
      stepRelative: this.stepRel.view(),
      stepNormalized: this.stepNorm.view(),
      steps: Int32Array.from(this.steps),
      keyRadius: this.radius,
      appendNs: this.appendCalls ? (this.appendTime * 1e6) / this.appendCalls : 0,
      attendNs: this.attendCalls ? (this.attendTime * 1e6) / this.attendCalls : 0,
    };
  }
}
