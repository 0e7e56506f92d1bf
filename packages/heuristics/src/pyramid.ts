import {
  type Budget,
  InvalidBudgetError,
  integerParam,
  InvalidParamsError,
  numberParam,
  type PolicyDefinition,
  type PolicySpec,
} from '@kv/core';
import { evictionParams } from './eviction/params.js';
import { layerBudgets } from './layer-budgets.js';
import { SnapKV, snapkvParams } from './snapkv.js';

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
 * @throws An `InvalidParamsError` for a bad `layers`, `beta` or `window`;
 *   `InvalidBudgetError` when `average` is not an integer above `window`.
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
 * The budget of one layer of a PyramidKV model: {@link pyramidBudgets} for a token budget (the
 * uniform budget when the average does not exceed the window, as kvpress falls back), and
 * {@link layerBudgets} with the pyramid shape for ratio and byte budgets (the shape without the
 * window, which has no meaning as a fraction).
 * @internal
 */
function pyramidLayerBudget(budget: Budget, layer: number, layers: number, beta: number, window: number): Budget {
  if (typeof budget === 'number' || 'tokens' in budget) {
    const tokens = typeof budget === 'number' ? budget : budget.tokens;
    if (tokens <= window) return tokens;
    return pyramidBudgets(tokens, layers, { beta, window })[layer]!;
  }
  return layerBudgets(budget, layers, { pyramid: { beta } })[layer]!;
}

/**
 * PyramidKV as a self-contained policy: SnapKV whose budget is this layer's share of a pyramid.
 * The spec's budget is the per-layer average; `params.layer` and `params.layers` place the head.
 *
 * @remarks
 * Same selection as {@link SnapKV}; only the budget depends on depth. With a token budget it is
 * {@link pyramidBudgets} (an average not above the window gives every layer the average, as
 * kvpress falls back to uniform SnapKV); with `{ratio}`, `{bytes}` or `{fraction}` budgets the
 * layer's share follows the same linear profile ({@link layerBudgets} with `{ pyramid: { beta } }`),
 * so the layers' bytes add up to `layers ×` the average.
 * The cache's `spec.budget` is the average; `capacity` reports what this layer may hold.
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
 *   policy: (layer) => ({ policy: 'pyramidkv', budget: { fraction: 1 / 8 }, params: { layer, layers } }),
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
   * @param spec - A spec with a budget (the per-layer average); params `layer`, `layers`, `beta`
   *   (default 20) and SnapKV's `window`, `kernel`, `after`.
   * @throws An `InvalidParamsError` on a bad parameter; `InvalidBudgetError` when the budget is not
   *   an integer above `window`.
   */
  constructor(spec: PolicySpec) {
    const layers = integerParam(spec.params, 'layers', { min: 1 });
    const layer = integerParam(spec.params, 'layer', { min: 0, max: layers - 1 });
    const beta = numberParam(spec.params, 'beta', { default: 20, min: 1 });
    const window = integerParam(spec.params, 'window', { default: 32, min: 0 });
    super(spec, pyramidLayerBudget(spec.budget!, layer, layers, beta, window));
    this.layers = layers;
    this.layer = layer;
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
  summary: 'SnapKV selection with per-layer budgets decreasing linearly with depth (budget = the layer average).',
  params: [
    { name: 'layer', type: 'integer', description: 'Layer index of this head (required).' },
    { name: 'layers', type: 'integer', description: 'Number of layers (required).' },
    { name: 'beta', type: 'number', default: 20, description: 'Pyramid steepness: deepest selection = (average − window)/beta.' },
    ...snapkvParams,
    ...evictionParams(),
  ],
  budget: 'required',
  create: (spec) => new PyramidKV(spec),
};
