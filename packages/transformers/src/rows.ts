import { type CacheState, type HeadCache, UnsupportedError } from '@kv/core';

// Core's SlotStore writes its state as `count` rows and a `precision` label; a float32 store's
// rows are one Float32Array of records `key ×d | value ×s | log-weight (weighted stores)`. Until
// caches expose their decoded rows through the contract, this reads those records from the public
// state() of a cache, walking combinators' parts: float32 rows are read, anything else is refused.
interface Found {
  row: number;
}

function copyStores(state: CacheState, d: number, s: number, keys: Float32Array, values: Float32Array, at: Found, end: number, policy: string): void {
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
    if (at.row + count > end) throw new UnsupportedError(`policy "${policy}" holds more float32 rows than it reports as stored`);
    for (let i = 0; i < count; i++) {
      const from = i * (d + s);
      const k = (at.row + i) * d;
      const v = (at.row + i) * s;
      for (let j = 0; j < d; j++) keys[k + j] = rows[from + j]!;
      for (let j = 0; j < s; j++) values[v + j] = rows[from + d + j]!;
    }
    at.row += count;
  }
  if (state.parts) for (const part of Object.values(state.parts)) copyStores(part, d, s, keys, values, at, end, policy);
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
 * @throws `UnsupportedError` when the cache holds weighted rows, quantized rows, or anything
 *   besides float32 rows (summaries).
 */
export function copyKeptRows(cache: HeadCache, keys: Float32Array, values: Float32Array, offset: number): number {
  const n = cache.stored;
  const at = { row: offset };
  copyStores(cache.state(), cache.keyDim, cache.valueDim, keys, values, at, offset + n, cache.spec.policy);
  if (at.row !== offset + n) {
    throw new UnsupportedError(
      `policy "${cache.spec.policy}" reports ${n} stored rows but holds ${at.row - offset} readable float32 rows; only caches made of float32 rows can be handed to a decoder`,
    );
  }
  return n;
}
