/** Small constant of CriticalKV's weighting (s + ε)·‖v‖, so tokens of no attention still rank by value. */
const CRITICAL_EPSILON = 1e-4;

/**
 * Scratch for {@link lowestChunk}, grown as the stream grows.
 * @internal
 */
export interface ChunkScratch {
  sum: Float64Array;
  count: Int32Array;
  /** Mean score of the chunk found last. */
  score: number;
}

/**
 * The chunk (positions [c·chunk, (c+1)·chunk)) of lowest mean score over its candidates
 * (positions in [sinks, newest)); infinite scores make the mean infinite, so an unscored token
 * keeps its chunk.
 * @param positions - Position of each slot.
 * @param rank - Score of each slot (null: all equal, by age).
 * @param n - Live slots.
 * @param chunk - Chunk length.
 * @param clock - Tokens seen.
 * @param sinks - First candidate position.
 * @param newest - First protected recent position.
 * @param scratch - Per-chunk sums and counts; receives the chunk's mean score.
 * @returns The chunk index (−1 when none).
 * @internal
 */
export function lowestChunk(
  positions: Int32Array,
  rank: Float32Array | null,
  n: number,
  chunk: number,
  clock: number,
  sinks: number,
  newest: number,
  scratch: ChunkScratch,
): number {
  const chunks = Math.floor(clock / chunk) + 1;
  if (scratch.sum.length < chunks) {
    scratch.sum = new Float64Array(Math.max(chunks, 2 * scratch.sum.length));
    scratch.count = new Int32Array(scratch.sum.length);
  }
  const sum = scratch.sum;
  const cnt = scratch.count;
  sum.fill(0, 0, chunks);
  cnt.fill(0, 0, chunks);
  for (let i = 0; i < n; i++) {
    const p = positions[i]!;
    if (p < sinks || p >= newest) continue;
    const c = Math.floor(p / chunk);
    sum[c] += rank === null ? 0 : rank[i]!;
    cnt[c]++;
  }
  let best = -1;
  let bestScore = Infinity;
  for (let c = 0; c < chunks; c++) {
    if (cnt[c] === 0) continue;
    const m = sum[c]! / cnt[c]!;
    if (best < 0 || m < bestScore) {
      best = c;
      bestScore = m;
    }
  }
  scratch.score = bestScore;
  return best;
}

/**
 * CriticalKV's two stages: the top `keep` raw scores are kept (+∞), the rest rank by
 * (s + ε)·‖v‖. `raw` may be `out` itself (each entry is read before it is written).
 * @param raw - Raw scores.
 * @param valueNorms - ‖v‖₂ of each slot.
 * @param n - Live slots.
 * @param keep - Rows kept by raw score.
 * @param out - Receives the weighted scores.
 * @param sortScratch - Scratch of at least n entries.
 * @returns `out`.
 * @internal
 */
export function criticalScores(raw: Float32Array, valueNorms: Float32Array, n: number, keep: number, out: Float32Array, sortScratch: Float32Array): Float32Array {
  let threshold = Infinity;
  if (keep > 0) {
    const tmp = sortScratch.subarray(0, n);
    tmp.set(raw.subarray(0, n));
    tmp.sort();
    threshold = tmp[n - keep]!;
  }
  for (let i = 0; i < n; i++) {
    const s = raw[i]!;
    out[i] = s === -Infinity ? -Infinity : s >= threshold || s === Infinity ? Infinity : (s + CRITICAL_EPSILON) * valueNorms[i]!;
  }
  return out;
}
