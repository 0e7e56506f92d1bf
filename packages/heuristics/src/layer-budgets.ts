import { type Budget, InvalidParamsError, validateBudget } from '@kv/core';

/**
 * A per-layer budget shape: a named profile, or any function of depth (`depth` = layer / (layers − 1),
 * 0 for the first layer, 1 for the last) returning a non-negative weight.
 *
 * @example
 * ```ts
 * import type { DepthShape } from '@kv/heuristics';
 * const deeperGetsMore: DepthShape = (depth) => 0.5 + depth;
 * const pyramid: DepthShape = { pyramid: { beta: 20 } };
 * ```
 */
export type DepthShape =
  | 'uniform'
  | {
      /** PyramidKV's linear decrease from the first layer to the last. */
      readonly pyramid: {
        /** PyramidKV's β ≥ 1 (default 20): weights from 2 − 1/β at the first layer down to 1/β. */
        readonly beta?: number;
      };
    }
  | {
      /** Weights interpolated linearly in depth. */
      readonly linear: {
        /** Weight of the first layer. */
        readonly first: number;
        /** Weight of the last layer. */
        readonly last: number;
      };
    }
  | {
      /** Weights in geometric progression. */
      readonly exponential: {
        /** Factor from one layer to the next. */
        readonly ratio: number;
      };
    }
  | ((depth: number, layer: number, layers: number) => number);

/**
 * Weights of the layers for a shape, normalised to mean 1 (so a schedule keeps the average budget).
 * `pyramid` is PyramidKV's linear profile without its window (from 2 − 1/β down to 1/β),
 * `linear` goes from `first` to `last`, `exponential` multiplies by `ratio` per layer.
 *
 * @param layers - Number of layers.
 * @param shape - The shape.
 * @returns One weight per layer, mean 1.
 * @throws `InvalidParamsError` for a bad layer count, a negative or non-finite weight, or
 *   weights that are all 0.
 * @example
 * ```ts
 * import { layerWeights } from '@kv/heuristics';
 * layerWeights(4, { linear: { first: 3, last: 1 } }); // [1.5, 1.1667, 0.8333, 0.5]
 * ```
 */
export function layerWeights(layers: number, shape: DepthShape): number[] {
  if (!Number.isInteger(layers) || layers < 1) throw new InvalidParamsError(`layers is ${layers}, expected an integer >= 1`);
  const depth = (l: number): number => (layers === 1 ? 0 : l / (layers - 1));
  let raw: number[];
  if (shape === 'uniform') raw = new Array<number>(layers).fill(1);
  else if (typeof shape === 'function') raw = Array.from({ length: layers }, (_, l) => shape(depth(l), l, layers));
  else if ('pyramid' in shape) {
    const beta = shape.pyramid.beta ?? 20;
    if (!(Number.isFinite(beta) && beta >= 1)) throw new InvalidParamsError(`pyramid beta is ${beta}, expected a number >= 1`);
    raw = Array.from({ length: layers }, (_, l) => 2 - 1 / beta - depth(l) * (2 - 2 / beta));
  } else if ('linear' in shape) {
    const { first, last } = shape.linear;
    raw = Array.from({ length: layers }, (_, l) => first + depth(l) * (last - first));
  } else {
    const { ratio } = shape.exponential;
    raw = Array.from({ length: layers }, (_, l) => ratio ** l);
  }
  for (const [l, w] of raw.entries()) {
    if (!(Number.isFinite(w) && w >= 0)) throw new InvalidParamsError(`layer ${l} has weight ${w}, expected a finite number >= 0`);
  }
  const mean = raw.reduce((a, w) => a + w, 0) / layers;
  if (!(mean > 0)) throw new InvalidParamsError('every layer has weight 0');
  return raw.map((w) => w / mean);
}

/**
 * Splits an average per-layer budget across layers by a depth shape, keeping the total: pass the
 * result to `ModelCache`'s `budgets`. Token and byte counts are integers summing to
 * `layers ×` the average (largest remainders, each layer at least 1); fractions and ratios are
 * scaled (a layer is capped at 1, what it cannot take goes to the others in proportion), with
 * `minBytes` / `min` / `offsetBytes` scaled alike.
 *
 * @param average - The average budget of a layer (what a uniform schedule would give each).
 * @param layers - Number of layers.
 * @param shape - The depth shape (see {@link layerWeights}).
 * @returns One budget per layer.
 * @throws `InvalidBudgetError` for a bad budget; `InvalidParamsError` for a bad shape.
 * @example
 * ```ts
 * import { layerBudgets } from '@kv/heuristics';
 * layerBudgets(100, 4, { pyramid: { beta: 20 } }); // [195, 132, 68, 5]
 * layerBudgets({ fraction: 1 / 8 }, 2, { linear: { first: 1, last: 3 } }); // fractions 1/16 and 3/16
 * ```
 */
export function layerBudgets(average: Budget, layers: number, shape: DepthShape): Budget[] {
  validateBudget(average);
  const w = layerWeights(layers, shape);
  if (typeof average === 'number' || 'tokens' in average) {
    const total = (typeof average === 'number' ? average : average.tokens) * layers;
    return integerSplit(total, w);
  }
  if ('bytes' in average) return integerSplit(average.bytes * layers, w).map((bytes) => ({ bytes }));
  if ('ratio' in average) {
    const f = cappedScale(average.ratio, w);
    return f.map((ratio, l) => (average.min === undefined ? { ratio } : { ratio, min: Math.max(1, Math.round(average.min * w[l]!)) }));
  }
  const f = cappedScale(average.fraction, w);
  return f.map((fraction, l) => {
    const scale = fraction / average.fraction;
    return {
      fraction,
      ...(average.minBytes !== undefined ? { minBytes: Math.floor(average.minBytes * scale) } : {}),
      ...(average.offsetBytes !== undefined ? { offsetBytes: Math.floor(average.offsetBytes * scale) } : {}),
    };
  });
}

// Largest-remainder rounding of total·w/layers, each at least 1, summing to total (a valid
// budget is at least 1 per layer, so total ≥ layers).
function integerSplit(total: number, w: readonly number[]): number[] {
  const layers = w.length;
  const want = w.map((x) => (total * x) / layers);
  const out = want.map((x) => Math.max(1, Math.floor(x)));
  let left = total - out.reduce((a, x) => a + x, 0);
  const byRemainder = want.map((x, l) => l).sort((a, b) => want[b]! - Math.floor(want[b]!) - (want[a]! - Math.floor(want[a]!)) || a - b);
  for (let i = 0; left > 0; i++, left--) out[byRemainder[i % layers]!]!++;
  // Layers raised to 1 are paid for by the largest ones.
  const bySize = out.map((_, l) => l).sort((a, b) => out[b]! - out[a]! || b - a);
  for (let i = 0; left < 0; i++) {
    const l = bySize[i % layers]!;
    if (out[l]! > 1) {
      out[l]!--;
      left++;
    }
  }
  return out;
}

// f·w per layer, capped at 1 with the excess spread over the uncapped layers in proportion.
function cappedScale(f: number, w: readonly number[]): number[] {
  const out = w.map((x) => f * x);
  for (let round = 0; round < w.length; round++) {
    let excess = 0;
    let free = 0;
    for (let l = 0; l < out.length; l++) {
      if (out[l]! > 1) {
        excess += out[l]! - 1;
        out[l] = 1;
      } else if (out[l]! < 1) free += w[l]!;
    }
    if (excess === 0 || free === 0) break;
    for (let l = 0; l < out.length; l++) if (out[l]! < 1) out[l]! += (excess * w[l]!) / free;
  }
  // A fraction must stay in (0, 1]: a layer of weight 0 keeps the smallest positive fraction.
  return out.map((x) => Math.min(1, Math.max(x, Number.MIN_VALUE)));
}
