import { choiceParam, integerParam, type PolicyDefinition, type PolicySpec } from '@kv/core';
import { EvictionCache } from './eviction/eviction-cache.js';
import { slotsByPosition } from './eviction/order.js';
import { evictionParams } from './eviction/params.js';
import type { Scorer } from './eviction/scorer.js';

/**
 * Which leverage CurDKV combines.
 *
 * @example
 * ```ts
 * import type { CurLeverage } from '@kv/heuristics';
 * const both: CurLeverage = 'kv_product';
 * ```
 */
export type CurLeverage = 'key' | 'value' | 'kv_avg' | 'kv_product';

/**
 * CurDKV's score: approximate leverage of a row in the CUR sense, ‖k‖² and ‖v‖² normalised within
 * local windows of `window` consecutive kept tokens (their share of the window's squared norm),
 * combined as their product (default), mean, or either alone. Query-free.
 *
 * @param window - Local window (kept tokens in position order).
 * @param leverage - How key and value leverage combine.
 * @returns A computed scorer (O(n·(d + s)) per scoring, nothing held per row).
 * @example
 * ```ts
 * import { curScorer } from '@kv/heuristics';
 * curScorer(16, 'kv_product').nonNegative; // true
 * ```
 * @see Sengupta et al., Value-Guided KV Compression for LLMs via Approximated CUR Decomposition (arXiv 2509.15038).
 */
export function curScorer(window: number, leverage: CurLeverage): Scorer {
  let order = new Int32Array(0);
  let k2 = new Float64Array(0);
  let v2 = new Float64Array(0);
  let key = new Float64Array(0);
  let value = new Float64Array(0);
  return {
    name: 'CUR leverage',
    columns: 0,
    probs: false,
    queries: false,
    live: false,
    nonNegative: true,
    fixedBytes: () => 0,
    score(view, out) {
      const n = view.count;
      const store = view.store;
      order = slotsByPosition(view, order);
      if (k2.length < n) {
        k2 = new Float64Array(Math.max(n, 2 * k2.length));
        v2 = new Float64Array(k2.length);
      }
      if (key.length !== view.keyDim) key = new Float64Array(view.keyDim);
      if (value.length !== view.valueDim) value = new Float64Array(view.valueDim);
      for (let r = 0; r < n; r++) {
        const slot = order[r]!;
        store.readKey(slot, key);
        store.readValue(slot, value);
        let a = 0;
        for (let j = 0; j < key.length; j++) a += key[j]! * key[j]!;
        let b = 0;
        for (let j = 0; j < value.length; j++) b += value[j]! * value[j]!;
        k2[r] = a;
        v2[r] = b;
      }
      for (let w0 = 0; w0 < n; w0 += window) {
        const w1 = Math.min(n, w0 + window);
        let sk = 0;
        let sv = 0;
        for (let r = w0; r < w1; r++) {
          sk += k2[r]!;
          sv += v2[r]!;
        }
        for (let r = w0; r < w1; r++) {
          const a = sk > 0 ? k2[r]! / sk : 0;
          const b = sv > 0 ? v2[r]! / sv : 0;
          out[order[r]!] = leverage === 'key' ? a : leverage === 'value' ? b : leverage === 'kv_avg' ? (a + b) / 2 : a * b;
        }
      }
      return out;
    },
  };
}

/**
 * CurDKV: query-free eviction by approximate CUR leverage of keys and values: within each local
 * window of kept tokens, the rows carrying the largest share of the squared key and value norms
 * stay (kvpress `CURPress` with its defaults: product of key and value leverage, windows of 16,
 * 4 sinks; the random-projection variant is not included).
 *
 * @remarks
 * The windows are of kept tokens in position order, recomputed at every eviction (or every
 * `every` steps). No approximation guarantee. Defining behaviour (tested): in a window, the token
 * with the largest key and value norms is kept over the others.
 *
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { curPolicy } from '@kv/heuristics';
 * const cache = new PolicyRegistry().register(curPolicy)
 *   .create({ policy: 'cur', keyDim: 64, valueDim: 64, budget: { fraction: 1 / 8 } });
 * ```
 * @see Sengupta et al., CurDKV (arXiv 2509.15038).
 */
export class CurDKV extends EvictionCache {
  /**
   * @param spec - A validated spec with a budget; params `window` (16), `leverage`
   *   (`'kv_product'`), and the shared eviction parameters (4 sinks by default).
   * @throws `InvalidParamsError` on a bad parameter (the shared eviction parameters included).
   */
  constructor(spec: PolicySpec) {
    const window = integerParam(spec.params, 'window', { default: 16, min: 1 });
    const leverage = choiceParam(spec.params, 'leverage', ['key', 'value', 'kv_avg', 'kv_product'] as const, 'kv_product');
    super(spec, curScorer(window, leverage), { sinks: 4 });
  }
}

/**
 * Registry entry of {@link CurDKV} (`"cur"`).
 *
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { curPolicy } from '@kv/heuristics';
 * new PolicyRegistry().register(curPolicy);
 * ```
 */
export const curPolicy: PolicyDefinition = {
  name: 'cur',
  summary: 'Query-free: keeps the rows of largest local key and value leverage (CurDKV).',
  params: [
    { name: 'window', type: 'integer', default: 16, description: 'Local normalisation window (kept tokens).' },
    { name: 'leverage', type: 'string', default: 'kv_product', description: "'key', 'value', 'kv_avg' or 'kv_product'." },
    ...evictionParams({ sinks: 4 }),
  ],
  budget: 'required',
  create: (spec) => new CurDKV(spec),
};
