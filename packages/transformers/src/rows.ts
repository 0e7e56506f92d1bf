import { type HeadCache, UnsupportedError } from '@kv/core';

/** One row store of a cache: `count` float32 records `key ×d | value ×s`, and their positions. */
export interface RowBlock {
  readonly count: number;
  /** The records (a buffer of this module's: read it before the next call for the same cache). */
  readonly rows: Float32Array;
  /**
   * Logical position of each record, or −1 for a record whose content changed since the previous
   * call although its position did not (a row the cache re-encoded: a float32 residual row that
   * was quantized). Undefined when the cache does not tell positions.
   */
  readonly positions: Int32Array | undefined;
}

// Per cache: the records of the previous call and of this one (swapped each call), the decoded
// keys and values, and the positions handed out.
interface Memo {
  prev: Float32Array;
  next: Float32Array;
  keys: Float32Array;
  values: Float32Array;
  prevPositions: Int32Array;
  prevCount: number;
  out: Int32Array;
}

const memos = new WeakMap<HeadCache, Memo>();

function memoFor(cache: HeadCache, n: number): Memo {
  const d = cache.keyDim;
  const s = cache.valueDim;
  let m = memos.get(cache);
  if (m === undefined) {
    m = { prev: new Float32Array(0), next: new Float32Array(0), keys: new Float32Array(0), values: new Float32Array(0), prevPositions: new Int32Array(0), prevCount: 0, out: new Int32Array(0) };
    memos.set(cache, m);
  }
  if (m.keys.length < n * d) {
    const rows = Math.max(n, 2 * (m.keys.length / d));
    const grow = (a: Float32Array, size: number) => {
      const b = new Float32Array(size);
      b.set(a.subarray(0, Math.min(a.length, size)));
      return b;
    };
    m.prev = grow(m.prev, rows * (d + s));
    m.next = new Float32Array(rows * (d + s));
    m.keys = new Float32Array(rows * d);
    m.values = new Float32Array(rows * s);
    m.out = new Int32Array(rows);
  }
  return m;
}

/**
 * The kept rows of a cache decoded to float32 (through `HeadCache.keptRows`, whatever precision
 * they are stored at), as records in the order of its positions. Records whose position is the
 * same as at the previous call for this cache but whose decoded content changed get position −1,
 * so a reader that copies only the rows whose position changed still copies them.
 * @param cache - A cache of a token-keeping policy.
 * @returns One block; its count is `cache.stored`.
 * @throws `UnsupportedError` when the cache keeps no rows it can decode (a summary), or holds
 *   something besides them (its stored token-equivalents are not its rows).
 */
export function rowBlocks(cache: HeadCache): RowBlock[] {
  const policy = cache.spec.policy;
  if (typeof cache.keptRows !== 'function') {
    throw new UnsupportedError(`policy "${policy}" keeps no rows it can decode (it answers from a summary), so there is no past to hand the model`);
  }
  const none = new Float32Array(0);
  // cannot throw: an empty range into empty Float32Arrays is valid for every cache (a summary part's UnsupportedError is documented above)
  const n = cache.keptRows(none, none, 0, 0);
  if (n !== cache.stored) {
    throw new UnsupportedError(`policy "${policy}" reports ${cache.stored} stored rows but keeps ${n} rows it can decode; only caches made of rows can be handed to a decoder`);
  }
  const d = cache.keyDim;
  const s = cache.valueDim;
  const m = memoFor(cache, n);
  // cannot throw: the destinations hold the n rows the call above counted
  cache.keptRows(m.keys, m.values, 0, n);
  const positions = typeof cache.positions === 'function' ? cache.positions() : undefined;
  const rec = d + s;
  const { prev, next, keys, values, out } = m;
  for (let i = 0; i < n; i++) {
    const r = i * rec;
    let same = i < m.prevCount && positions !== undefined && positions[i] === m.prevPositions[i];
    for (let j = 0; j < d; j++) {
      const x = keys[i * d + j]!;
      if (same && !Object.is(prev[r + j], x)) same = false;
      next[r + j] = x;
    }
    for (let j = 0; j < s; j++) {
      const x = values[i * s + j]!;
      if (same && !Object.is(prev[r + d + j], x)) same = false;
      next[r + d + j] = x;
    }
    if (positions !== undefined) out[i] = same || i >= m.prevCount || positions[i] !== m.prevPositions[i] ? positions[i]! : -1;
  }
  m.prev = next;
  m.next = prev;
  m.prevPositions = positions ?? new Int32Array(0);
  m.prevCount = positions !== undefined ? n : 0;
  return [{ count: n, rows: next.subarray(0, n * rec), positions: positions !== undefined ? out.subarray(0, n) : undefined }];
}
