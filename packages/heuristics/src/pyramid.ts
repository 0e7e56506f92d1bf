import {
  fixedBudget,
  InvalidBudgetError,
  integerParam,
  InvalidParamsError,
  numberParam,
  type PolicyDefinition,
  type PolicySpec,
} from '@kv/core';
import { SnapKV } from './snapkv.js';

/**
 * Options of {@link pyramidBudgets}.
 *
 * @example
 * ```ts
 * import { pyramidBudgets, type PyramidOptions } from '@kv/heuristics';
 * const options: PyramidOptions = { beta: 10, window: 8 };
 * pyramidBudgets(64, 8, options); // 8 budgets, deepest layer smallest
 * ```
 */
export interface PyramidOptions {
  /** Steepness: the deepest layer selects about (average − window) / beta tokens (default 20). */
  readonly beta?: number;
  /** Observation window kept by every layer on top of its selection (default 32). */
  readonly window?: number;
}

/**
 * Per-layer token budgets decreasing linearly with depth, as PyramidKV (KVCache-Factory
 * `PyramidKVCluster`, kvpress `PyramidKVPress`): with c = average − window, `min = c / beta`,
 * `max = 2c − min`, `step = (max − min) / (layers − 1)`, and layer l gets
 * `round(max − l·step) + window`. Pass the result to `ModelCache`'s `budgets` with a SnapKV policy.
 *
 * @remarks
 * The arithmetic is real-valued with one rounding per layer, as kvpress; KVCache-Factory's
 * integer divisions (`//`) can make the total overshoot `layers · average` badly when
 * `layers − 1` exceeds `max − min` (the step floors to 0), which a shared memory budget must not.
 *
 * @param average - The per-layer average budget (what a uniform SnapKV would give every layer).
 * @param layers - Number of layers.
 * @param options - `beta` (default 20) and `window` (default 32).
 * @returns One budget per layer, non-increasing, each ≥ max(1, window); their sum is within
 *   `layers / 2` of `layers · average` (one rounding per layer), plus at most one token when
 *   `window` is 0 and the deepest layer is raised to the 1-token floor.
 * @throws An {@link InvalidParamsError} for a bad `layers`, `beta` or `window`;
 *   {@link InvalidBudgetError} when `average` is not an integer above `window`.
 * @example
 * ```ts
 * import { pyramidBudgets } from '@kv/heuristics';
 * pyramidBudgets(128, 4, { beta: 20, window: 32 }); // [219, 158, 98, 37]
 * ```
 * @see Cai et al., PyramidKV: Dynamic KV Cache Compression based on Pyramidal Information Funneling (arXiv 2406.02069).
 */
export function pyramidBudgets(average: number, layers: number, options: PyramidOptions = {}): number[] {
  const beta = options.beta ?? 20;
  const window = options.window ?? 32;
  if (!Number.isInteger(layers) || layers < 1) throw new InvalidParamsError(`layers is ${layers}, expected an integer >= 1`);
  if (!(Number.isFinite(beta) && beta >= 1)) throw new InvalidParamsError(`beta is ${beta}, expected a number >= 1`);
  if (!Number.isInteger(window) || window < 0) throw new InvalidParamsError(`window is ${window}, expected an integer >= 0`);
  if (!Number.isInteger(average) || average <= window) {
    throw new InvalidBudgetError(`pyramid average budget is ${average}, expected an integer above the window (${window})`);
  }
  const c = average - window;
  if (layers === 1) return [average];
  const min = c / beta;
  const max = 2 * c - min;
  const step = (max - min) / (layers - 1);
  const out: number[] = [];
  for (let l = 0; l < layers; l++) out.push(Math.max(1, Math.round(max - l * step) + window));
  return out;
}

/**
 * PyramidKV as a self-contained policy: SnapKV whose budget is this layer's share of a pyramid.
 * The spec's budget is the per-layer average; `params.layer` and `params.layers` place the head.
 *
 * @remarks
 * Same selection as {@link SnapKV}; only the budget depends on depth ({@link pyramidBudgets}).
 * The cache's `spec.budget` is the layer's budget, so `capacity` reports what this head may hold.
 * Equivalent to a `"snapkv"` policy with `ModelCache`'s `budgets: pyramidBudgets(…)`.
 * No approximation guarantee: it is a baseline.
 *
 * @example
 * ```ts
 * import { ModelCache, PolicyRegistry } from '@kv/core';
 * import { pyramidkvPolicy } from '@kv/heuristics';
 * const layers = 4;
 * const cache = new ModelCache({
 *   layers, kvHeads: 2, keyDim: 64, valueDim: 64,
 *   registry: new PolicyRegistry().register(pyramidkvPolicy),
 *   policy: (layer) => ({ policy: 'pyramidkv', budget: 256, params: { layer, layers } }),
 * });
 * ```
 * @see Cai et al., PyramidKV (arXiv 2406.02069).
 */
export class PyramidKV extends SnapKV {
  /** Layer index of this head. */
  readonly layer: number;
  /** Number of layers of the pyramid. */
  readonly layers: number;

  /**
   * @param spec - A spec with a fixed average budget; params `layer`, `layers`, `beta`
   *   (default 20) and SnapKV's `window`, `kernel`, `after`.
   * @throws An {@link InvalidParamsError} on a bad parameter; {@link InvalidBudgetError} for a ratio
   *   budget or one not above the window.
   */
  constructor(spec: PolicySpec) {
    const layers = integerParam(spec.params, 'layers', { min: 1 });
    const layer = integerParam(spec.params, 'layer', { min: 0, max: layers - 1 });
    const beta = numberParam(spec.params, 'beta', { default: 20, min: 1 });
    const window = integerParam(spec.params, 'window', { default: 32, min: 0 });
    const budgets = pyramidBudgets(fixedBudget(spec, 'pyramidkv'), layers, { beta, window });
    super({ ...spec, budget: budgets[layer]! });
    this.layer = layer;
    this.layers = layers;
  }
}

/**
 * Registry entry of {@link PyramidKV} (`"pyramidkv"`).
 *
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { pyramidkvPolicy } from '@kv/heuristics';
 * new PolicyRegistry().register(pyramidkvPolicy);
 * ```
 */
export const pyramidkvPolicy: PolicyDefinition = {
  name: 'pyramidkv',
  summary: 'SnapKV selection with per-layer budgets decreasing linearly with depth (budget = layer average).',
  params: [
    { name: 'layer', type: 'integer', description: 'Layer index of this head (required).' },
    { name: 'layers', type: 'integer', description: 'Number of layers (required).' },
    { name: 'beta', type: 'number', default: 20, description: 'Pyramid steepness: deepest selection = (average − window)/beta.' },
    { name: 'window', type: 'integer', default: 32, description: 'Observation window w; the last w prompt tokens are kept.' },
    { name: 'kernel', type: 'integer', default: 5, description: 'Average-pooling kernel size (odd).' },
    { name: 'after', type: 'string', default: 'window', description: "Tokens appended after prefill: 'window' or 'keep'." },
  ],
  budget: 'required',
  create: (spec) => new PyramidKV(spec),
};
