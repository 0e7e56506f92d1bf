// Float32 bit views for rounding a score's significand.
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/**
 * `x` as a Float32 with its significand rounded to `bits` bits after the leading one (round to
 * nearest, ties to even), so scores that agree to about 2^−(bits+1) relative become equal.
 *
 * @remarks
 * Why: a score computed from a model's keys is only known to the precision at which two
 * engines (or two kernels) agree on those keys. Below it the ranking is rounding noise, and
 * mathematically equal scores (K-norm in layer 0, where a key's norm depends on its token only)
 * are split by it differently in each engine. Rounding maps both engines' values to one grid
 * point unless they straddle a grid boundary (probability ≈ their difference over the grid step),
 * and equal grid values fall to the eviction order's tie rule (the oldest goes), which both
 * engines apply alike.
 * @param x - A score (±Infinity and NaN pass through).
 * @param bits - Significand bits kept, in [0, 23] (23: plain Float32 rounding).
 * @returns The rounded score.
 * @internal
 */
export function roundSignificand(x: number, bits: number): number {
  f32[0] = x;
  if (bits >= 23 || !Number.isFinite(f32[0]!)) return f32[0]!;
  const drop = 23 - bits;
  const u = u32[0]!;
  // Adding half a grid step (less one when the kept last bit is even) rounds to nearest, ties to
  // even; a carry into the exponent is the correct next power of two.
  const bias = 2 ** (drop - 1) - 1 + (Math.floor(u / 2 ** drop) & 1);
  u32[0] = Math.floor((u + bias) / 2 ** drop) * 2 ** drop;
  return f32[0]!;
}
