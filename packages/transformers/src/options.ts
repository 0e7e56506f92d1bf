import { type Budget, InvalidParamsError, ModelCache, type PolicyChoice, type PolicyRegistryLike } from '@kv/core';
import { checkPolicy, type PolicyKind } from './kinds.js';
import type { DecoderShape } from './model.js';
import type { ProxyPlan } from './past.js';

/**
 * Options of {@link CompressedSession.create} and {@link CompressedCache.create}.
 *
 * @example
 * ```ts
 * import { PolicyRegistry, exactPolicy } from '@kv/core';
 * import { heuristicPolicies } from '@kv/heuristics';
 * import type { SessionOptions } from '@kv/transformers';
 * const options: SessionOptions = {
 *   policy: { policy: 'streaming-llm', params: { sinks: 4 } },
 *   budget: { fraction: 1 / 8, minBytes: 4096 },
 *   registry: new PolicyRegistry().register(exactPolicy, ...heuristicPolicies),
 * };
 * ```
 */
export interface SessionOptions {
  /** One policy for every (layer, KV head), or a function choosing it per head. */
  readonly policy: PolicyChoice | ((layer: number, kvHead: number) => PolicyChoice);
  /** Registry that builds the per-head caches. */
  readonly registry: PolicyRegistryLike;
  /** Budget of every head, overriding the policy choice's own. */
  readonly budget?: Budget;
  /** Base seed: each head's policy gets `mixSeed(seed, layer, head)`, the sampler `seed` (default 0). */
  readonly seed?: number;
  /**
   * `'key'`: run query-aware policies (H2O, TOVA, SnapKV) with each new token's key as the query
   * of every query head that reads its KV head, since the graph does not expose queries; at a
   * multi-token prefill the last `window` tokens' keys (the policy's `window` param, default 32)
   * are the observation queries. Without it such policies are refused.
   */
  readonly queryProxy?: 'key';
  /** Kinds of custom policies (a policy neither built in nor declared is refused). */
  readonly kinds?: Readonly<Record<string, PolicyKind>>;
}

/** The ModelCache and proxy plan of a new past, after checking every head's policy. */
export function buildCache(shape: DecoderShape, options: SessionOptions): { cache: ModelCache; proxies: ProxyPlan | undefined } {
  if (typeof options !== 'object' || options === null || options.policy === undefined || options.registry === undefined) {
    throw new InvalidParamsError('a compressed past needs options { policy, registry }');
  }
  if (options.queryProxy !== undefined && options.queryProxy !== 'key') {
    throw new InvalidParamsError(`queryProxy is ${JSON.stringify(options.queryProxy)}, expected "key" or nothing`);
  }
  // Every head's policy is checked before any cache is built, so a refusal names the policy first.
  const choices: PolicyChoice[] = [];
  for (let l = 0; l < shape.layers; l++) {
    for (let h = 0; h < shape.kvHeads; h++) {
      const c = typeof options.policy === 'function' ? options.policy(l, h) : options.policy;
      checkPolicy(c, options.kinds ?? {}, options.queryProxy === 'key', options.registry);
      choices.push(c);
    }
  }
  const budget = options.budget;
  const cache = new ModelCache({
    layers: shape.layers,
    kvHeads: shape.kvHeads,
    queryHeads: shape.queryHeads,
    keyDim: shape.headDim,
    valueDim: shape.headDim,
    policy: (l, h) => choices[l * shape.kvHeads + h]!,
    registry: options.registry,
    ...(budget !== undefined ? { budgets: () => budget } : {}),
    ...(options.seed !== undefined ? { seed: options.seed } : {}),
  });
  return { cache, proxies: proxyPlan(cache, options.kinds ?? {}, options.queryProxy === 'key', options.registry) };
}

/**
 * Checks every head of a cache (new or restored) and plans its query proxies.
 * @param cache - The cache.
 * @param kinds - Declared kinds of custom policies.
 * @param queryProxy - Whether key proxies are on.
 * @param registry - The registry the caches come from (its definitions' traits).
 * @returns The layers with query-aware heads and the prefill window, or undefined when none is.
 */
export function proxyPlan(cache: ModelCache, kinds: Readonly<Record<string, PolicyKind>>, queryProxy: boolean, registry?: PolicyRegistryLike): ProxyPlan | undefined {
  const layers = new Set<number>();
  let window = 32;
  for (let l = 0; l < cache.layers; l++) {
    for (let h = 0; h < cache.kvHeads; h++) {
      const spec = cache.head(l, h).spec;
      if (checkPolicy(spec, kinds, queryProxy, registry)) {
        layers.add(l);
        const w = spec.params?.['window'];
        if (typeof w === 'number' && Number.isInteger(w) && w >= 0) window = w;
      }
    }
  }
  return layers.size > 0 ? { layers, window } : undefined;
}
