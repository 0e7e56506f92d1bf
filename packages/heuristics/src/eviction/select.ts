/**
 * Marks the `k` highest scores (ties: the earlier index), for prefill-time selections.
 * @param scores - One score per token.
 * @param k - How many to keep.
 * @returns 1 for the kept indices, 0 for the others.
 * @internal
 */
export function selectTop(scores: ArrayLike<number>, k: number): Uint8Array {
  const n = scores.length;
  const selected = new Uint8Array(n);
  if (k >= n) return selected.fill(1);
  if (k <= 0) return selected;
  const order = Array.from({ length: n }, (_, i) => i);
  order.sort((a, b) => scores[b]! - scores[a]! || a - b);
  for (let i = 0; i < k; i++) selected[order[i]!] = 1;
  return selected;
}
