import type { ScoreView } from './scorer.js';

/**
 * The live slots sorted by position (oldest first), into `out` (grown as needed): for scorers
 * that look at neighbourhoods of positions (LagKV partitions, CUR windows).
 * @param view - The cache.
 * @param out - Scratch to reuse.
 * @returns The slots in position order (the first `view.count` entries).
 * @internal
 */
export function slotsByPosition(view: ScoreView, out: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> {
  const n = view.count;
  const order = out.length >= n ? out : new Int32Array(Math.max(n, 2 * out.length));
  const pos = view.store.positionOf;
  for (let i = 0; i < n; i++) order[i] = i;
  order.subarray(0, n).sort((a, b) => pos[a]! - pos[b]!);
  return order;
}
