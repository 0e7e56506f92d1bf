import { booleanParam, integerParam, type PolicyDefinition, type PolicySpec } from '@kv/core';
import { EvictionCache, evictionParams, type Scorer, type ScoreView } from '@kv/heuristics';
import type { ContextScoredHead } from './context-scores.js';
import type { KvzipOptions } from './kvzip.js';

/**
 * KVzip's score as a live scorer for `@kv/heuristics`' eviction machinery (one Float32 column):
 * a prompt token starts at the KVzip score the decoder computed at prefill (see
 * {@link kvzipScores}); a token without one (generated later) starts at 0. With `online`, each
 * answered query then raises a kept token's score to its attention probability when larger: the
 * same statistic (the largest attention any query gave the token), taken over real queries.
 * @internal
 */
export class KvzipScorer implements Scorer {
  readonly name = 'kvzip';
  readonly columns = 1;
  readonly queries = false;
  readonly live = true;
  readonly nonNegative = true;
  readonly probs: boolean;
  private prior: Float32Array | null = null;

  /** @param online - Whether later queries raise the scores. */
  constructor(online: boolean) {
    this.probs = online;
  }

  /**
   * The prompt's scores, for the prefill that follows.
   * @param scores - One per prompt position.
   */
  setPrior(scores: Float32Array): void {
    this.prior = scores.slice();
  }

  fixedBytes(): number {
    return 0;
  }

  stored(view: ScoreView, slot: number, _key: Float32Array, _value: Float32Array, position: number): void {
    const prior = this.prior;
    view.column(0)[slot] = prior !== null && position < prior.length ? prior[position]! : 0;
  }

  observe(view: ScoreView, _query: Float32Array, probs: Float64Array | null): void {
    if (!probs) return;
    const c = view.column(0);
    for (let i = 0, n = view.count; i < n; i++) if (probs[i]! > c[i]!) c[i] = probs[i]!;
  }

  score(view: ScoreView): Float32Array {
    return view.column(0);
  }

  reset(): void {
    this.prior = null;
  }
}

/**
 * KVzip (Kim et al., arXiv 2505.23416; kvpress `KVzipPress`) as a head cache: the prompt's tokens
 * are ranked by how much the model attends to them while reconstructing the prompt, scores that
 * `LlamaDecoder.prefill` computes with the model (KVzip's reconstruction passes, about two more
 * prefills: see {@link kvzipScores}); the cache keeps the highest within its budget, with the
 * shared eviction parameters of `@kv/heuristics` (sinks, protected recent tokens, AdaKV pools
 * for KVzip's head-level non-uniform budgets, precision). Generated tokens, which have no
 * reconstruction score, are protected while recent and then ranked by the largest attention a
 * later query gave them (`online`, default true; without it they score 0 once they leave the
 * recent window).
 *
 * @example
 * ```ts
 * import { exactPolicy, PolicyRegistry } from '@kv/core';
 * import { kvzipPolicy } from '@kv/llm';
 * import { loadModel } from '@kv/llm/node';
 * const MODEL_PATH = '../shared/models/tinyllama-bytes.bin';
 * const model = await loadModel(MODEL_PATH);
 * const registry = new PolicyRegistry().register(exactPolicy, kvzipPolicy);
 * const decoder = model.decoder(model.createCache({ policy: 'kvzip', budget: 64 }, { registry }));
 * decoder.prefill(new TextEncoder().encode('In the beginning God created the heaven and the earth. '.repeat(4)));
 * decoder.contextScoringMillis; // what the reconstruction passes cost
 * ```
 * @remarks Only prompts fed through `LlamaDecoder.prefill` are scored; tokens streamed with
 * `step` (or a cache used outside the decoder) start at 0, so the policy then ranks by `online`
 * attention alone.
 */
export class KvzipCache extends EvictionCache implements ContextScoredHead {
  /** How the decoder scores the prompt (reconstruction prompt, chunk size). */
  readonly kvzip: KvzipOptions;

  /**
   * @param spec - A spec with a budget; `params.online` (default true), `params.chunk` (default
   *   2048) and the shared eviction parameters (`sinks` default 4, `recentRatio` 0.5 as H2O).
   * @throws An `InvalidParamsError` on a bad parameter.
   */
  constructor(spec: PolicySpec) {
    super(spec, new KvzipScorer(booleanParam(spec.params, 'online', true)), { sinks: 4, recentRatio: 0.5 });
    this.kvzip = { chunk: integerParam(spec.params, 'chunk', { default: 2048, min: 1 }) };
  }

  /**
   * Receives the prompt's KVzip scores before the prefill.
   * @param scores - One per prompt position.
   */
  takeContextScores(scores: Float32Array): void {
    (this.scorer as KvzipScorer).setPrior(scores);
  }
}

/**
 * Registry entry of {@link KvzipCache} (`"kvzip"`).
 *
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { kvzipPolicy } from '@kv/llm';
 * new PolicyRegistry().register(kvzipPolicy);
 * ```
 */
export const kvzipPolicy: PolicyDefinition = {
  name: 'kvzip',
  summary: 'KVzip: prompt tokens ranked by the attention the model pays them while reconstructing the prompt (scored by @kv/llm at prefill); keeps the highest.',
  params: [
    ...evictionParams({ sinks: 4, recentRatio: 0.5 }),
    { name: 'online', type: 'boolean', default: true, description: 'Later queries raise a kept token’s score to its attention probability when larger (generated tokens get scores this way).' },
    { name: 'chunk', type: 'integer', default: 2048, description: 'Prompt tokens reconstructed per pass.' },
  ],
  budget: 'required',
  create: (spec) => new KvzipCache(spec),
};
