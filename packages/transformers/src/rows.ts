import { type CacheState, type HeadCache, UnsupportedError } from '@kv/core';

/** One row store of a cache: `count` float32 records `key ×d | value ×s`, and their positions. */
export interface RowBlock {
  readonly count: number;
  /** The records (a view of the store's memory: read it before the cache changes). */
  readonly rows: Float32Array;
  /** Logical position of each record, when the store keeps them. */
  readonly positions: Int32Array | undefined;
}

// Core's SlotStore writes its state as `count` rows and a `precision` label; a float32 store's
// rows are one Float32Array of records `key ×d | value ×s | log-weight (weighted stores)`. Until
// caches expose their decoded rows through the contract, the rows are read from the public
// state() of a cache, walking combinators' parts: float32 rows are read, anything else refused.
function collect(state: CacheState, d: number, s: number, policy: string, out: RowBlock[]): void {
  const count = state.scalars['count'];
  const precision = state.scalars['precision'];
  if (typeof count === 'number' && typeof precision === 'string') {
    const rows = state.arrays['rows'];
    if (precision !== 'f32' || !(rows instanceof Float32Array)) {
      throw new UnsupportedError(
        `policy "${policy}" stores its rows as ${precision} codes; handing them to a decoder needs them decoded, which @kv/core's cache contract does not expose yet`,
      );
    }
    if (count > 0 && rows.length === count * (d + s + 1)) {
      throw new UnsupportedError(`policy "${policy}" keeps weighted rows (logit biases), which a 0/1 attention_mask cannot express`);
    }
    if (rows.length !== count * (d + s)) throw new UnsupportedError(`policy "${policy}" holds rows of an unknown layout`);
    const positions = state.arrays['positions'];
    out.push({ count, rows, positions: positions instanceof Int32Array && positions.length === count ? positions : undefined });
  }
  if (state.parts) for (const part of Object.values(state.parts)) collect(part, d, s, policy, out);
}

/**
 * The row stores of a cache (slot order), checked to be all it holds: every stored
 * token-equivalent must be an unweighted float32 row.
 * @param cache - A cache of a token-keeping policy.
 * @returns Its stores; their counts add up to `cache.stored`.
 * @throws `UnsupportedError` when the cache holds weighted rows, quantized rows, or anything
 *   besides float32 rows (summaries).
 */
export function rowBlocks(cache: HeadCache): RowBlock[] {
  const blocks: RowBlock[] = [];
  collect(cache.state(), cache.keyDim, cache.valueDim, cache.spec.policy, blocks);
  let total = 0;
  for (const b of blocks) total += b.count;
  if (total !== cache.stored) {
    throw new UnsupportedError(
      `policy "${cache.spec.policy}" reports ${cache.stored} stored rows but holds ${total} readable float32 rows; only caches made of float32 rows can be handed to a decoder`,
    );
  }
  return blocks;
}
