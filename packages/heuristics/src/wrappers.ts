import { InvalidParamsError, type PolicyChoice } from '@kv/core';

const withParams = (choice: PolicyChoice, extra: Record<string, unknown>): PolicyChoice => ({ ...choice, params: { ...choice.params, ...extra } });

/**
 * AdaKV around any eviction policy: the KV heads of each layer share one budget (the sum of
 * their own), and the lowest-scored token of any head of the layer goes when it is full, so
 * heads whose attention is spread keep more rows and concentrated heads fewer (real per-head
 * sizes, no masks). Each head keeps at least `alpha` of its share. Pass the result as
 * `ModelCache`'s `policy`; heads must be created in order (as `ModelCache` and `restoreModel` do),
 * so a restored model shares its pools again.
 *
 * @param choice - The policy of every head (any eviction policy; its budget is a head's average share).
 * @param options - `heads` (KV heads per layer) and `alpha` (safeguard, default 0.2).
 * @returns A per-(layer, head) policy choice.
 * @throws `InvalidParamsError` for a bad head count.
 * @example
 * ```ts
 * import { ModelCache, PolicyRegistry } from '@kv/core';
 * import { adaKV, heuristicPolicies } from '@kv/heuristics';
 * const registry = new PolicyRegistry().register(...heuristicPolicies);
 * const cache = new ModelCache({
 *   layers: 2, kvHeads: 4, keyDim: 16, valueDim: 16, registry,
 *   policy: adaKV({ policy: 'h2o', budget: { fraction: 1 / 8 } }, { heads: 4 }),
 * });
 * ```
 * @see Feng et al., Ada-KV: Optimizing KV Cache Eviction by Adaptive Budget Allocation (arXiv 2407.11550).
 */
export function adaKV(choice: PolicyChoice, options: { readonly heads: number; readonly alpha?: number }): (layer: number, kvHead: number) => PolicyChoice {
  if (!Number.isSafeInteger(options.heads) || options.heads < 1) throw new InvalidParamsError(`heads is ${options.heads}, expected an integer >= 1`);
  return (layer, kvHead) => withParams(choice, { pool: { heads: options.heads, head: kvHead, layer, ...(options.alpha !== undefined ? { alpha: options.alpha } : {}) } });
}

/**
 * CriticalKV around an attention-mass scorer (H2O, TOVA, SnapKV, Expected Attention, given
 * scores): keeps the top `firstStage` of the capacity by score, then ranks the rest by
 * (score + ε)·‖v‖₂, the value's share of the output perturbation an eviction causes. The paper
 * weights by ‖W_o·v‖₁; a head cache has no W_o, so the value norm stands in for it (equal up to
 * the projection's gain when W_o is near-isotropic). Combine with {@link adaKV} for CriticalAdaKV.
 *
 * @param choice - The policy.
 * @param options - `firstStage` (default 0.5).
 * @returns The choice with CriticalKV weighting.
 * @example
 * ```ts
 * import { criticalKV } from '@kv/heuristics';
 * const choice = criticalKV({ policy: 'tova', budget: { fraction: 1 / 8 } });
 * ```
 * @see Feng et al., Identify Critical KV Cache in LLM Inference from an Output Perturbation Perspective (arXiv 2502.03805).
 */
export function criticalKV(choice: PolicyChoice, options: { readonly firstStage?: number } = {}): PolicyChoice {
  return withParams(choice, { critical: true, ...(options.firstStage !== undefined ? { firstStage: options.firstStage } : {}) });
}

/**
 * A decode-time schedule around any eviction policy (kvpress `DecodingPress`): the cache fills to
 * its budget, then is compressed down to budget − `interval` at once, so scoring runs every
 * `interval` steps; the bytes never exceed the budget (the buffer is inside it).
 *
 * @param choice - The policy.
 * @param options - `interval` (steps between compressions, ≥ 1).
 * @returns The choice with the schedule.
 * @throws `InvalidParamsError` for a bad interval.
 * @example
 * ```ts
 * import { decoding } from '@kv/heuristics';
 * const choice = decoding({ policy: 'keydiff', budget: { fraction: 1 / 8 } }, { interval: 16 });
 * ```
 */
export function decoding(choice: PolicyChoice, options: { readonly interval: number }): PolicyChoice {
  if (!Number.isSafeInteger(options.interval) || options.interval < 1) throw new InvalidParamsError(`interval is ${options.interval}, expected an integer >= 1`);
  return withParams(choice, { buffer: options.interval - 1 });
}

/**
 * Chunk-wise selection around any eviction policy (ChunkKV): chunks of `chunk` consecutive
 * positions are evicted whole, by their mean score, keeping local context together.
 *
 * @param choice - The policy.
 * @param options - `chunk` (positions per chunk, ≥ 1).
 * @returns The choice with chunk selection.
 * @example
 * ```ts
 * import { chunked } from '@kv/heuristics';
 * const choice = chunked({ policy: 'h2o', budget: 256 }, { chunk: 8 });
 * ```
 * @see Liu et al., ChunkKV: Semantic-Preserving KV Cache Compression for Efficient Long-Context LLM Inference (arXiv 2502.00299).
 */
export function chunked(choice: PolicyChoice, options: { readonly chunk: number }): PolicyChoice {
  return withParams(choice, { chunk: options.chunk });
}
