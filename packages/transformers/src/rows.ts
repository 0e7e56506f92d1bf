import { type CacheState, type HeadCache, UnsupportedError } from '@kv/core';

// A row store's state as core's SlotStore writes it: `count` rows of float32 keys and values
// (positions and log-weights optional). Walking the state tree finds every such store of a cache,
// combinators' parts included, through the public state() of the cache contract.
function isRowStore(state: CacheState, d: number, s: number): boolean {
  const count = state.scalars['count'];
  const { keys, values } = state.arrays;
  return typeof count === 'number' && keys instanceof Float32Array && values instanceof Float32Array && keys.length === count * d && values.length === count * s;
}

function copyStores(state: CacheState, d: number, s: number, keys: Float32Array, values: Float32Array, row: number, end: number, policy: string): number {
  if (isRowStore(state, d, s)) {
    if (state.arrays['logWeights'] !== undefined) {
      throw new UnsupportedError(`policy "${policy}" keeps weighted rows (logit biases), which a 0/1 attention_mask cannot express`);
    }
    const n = state.scalars['count'] as number;
    if (row + n > end) throw new UnsupportedError(`policy "${policy}" holds more float32 rows than it reports as stored`);
    keys.set(state.arrays['keys'] as Float32Array, row * d);
    values.set(state.arrays['values'] as Float32Array, row * s);
    row += n;
  }
  if (state.parts) for (const part of Object.values(state.parts)) row = copyStores(part, d, s, keys, values, row, end, policy);
  return row;
}

/**
 * Copies the rows a cache attends over (its float32 keys and values, in slot order) into
 * `keys`/`values` from row `offset` on, and checks that they are all it holds: every stored
 * token-equivalent must be a readable, unweighted float32 row.
 * @param cache - A cache of a token-keeping policy.
 * @param keys - Destination of the keys (row-major, d floats a row).
 * @param values - Destination of the values (row-major, s floats a row).
 * @param offset - First destination row.
 * @returns The number of rows copied (`cache.stored`).
 * @throws {@link UnsupportedError} when the cache holds weighted rows, or anything besides float32
 *   rows (summaries, codes of its own layout).
 */
export function copyKeptRows(cache: HeadCache, keys: Float32Array, values: Float32Array, offset: number): number {
  const n = cache.stored;
  const end = copyStores(cache.state(), cache.keyDim, cache.valueDim, keys, values, offset, offset + n, cache.spec.policy);
  if (end !== offset + n) {
    throw new UnsupportedError(
      `policy "${cache.spec.policy}" reports ${n} stored rows but holds ${end - offset} readable float32 rows; only caches made of float32 rows can be handed to a decoder`,
    );
  }
  return n;
}
