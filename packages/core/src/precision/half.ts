// IEEE-754 binary16 conversions in plain JS (Node 20 has no Math.f16round or Float16Array).
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Largest finite float16. */
export const HALF_MAX = 65504;

/**
 * The float16 nearest to `x` (round to nearest, ties to even), as its 16 bits.
 * @param x - A number (first rounded to float32).
 * @returns The bits; ±Infinity beyond the range, NaN stays NaN.
 * @internal
 */
export function toHalf(x: number): number {
  f32[0] = x;
  const b = u32[0]!;
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && (h & 1) !== 0)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  // A carry out of the mantissa correctly bumps the exponent (up to Infinity).
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1) !== 0)) h++;
  return sign | h;
}

// 2^(e − 15) for the exponent field e: `2 ** x` with a variable x is a call into Math.pow.
const POW2 = Float64Array.from({ length: 32 }, (_, e) => 2 ** (e - 15));

/**
 * The value of float16 bits.
 * @param h - 16 bits.
 * @returns The number.
 * @internal
 */
export function fromHalf(h: number): number {
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  const sign = h & 0x8000 ? -1 : 1;
  if (e === 0) return sign * m * 5.960464477539063e-8;
  if (e === 31) return m !== 0 ? NaN : sign * Infinity;
  return sign * (1 + m / 1024) * POW2[e]!;
}

/**
 * The largest float16 ≤ x (x finite, |x| ≤ 65504), as bits.
 * @param x - The bound.
 * @returns The bits.
 * @internal
 */
export function halfDown(x: number): number {
  const h = toHalf(x);
  if (fromHalf(h) <= x) return h;
  return stepHalf(h, -1);
}

/**
 * The smallest float16 ≥ x (x finite, |x| ≤ 65504), as bits.
 * @param x - The bound.
 * @returns The bits.
 * @internal
 */
export function halfUp(x: number): number {
  const h = toHalf(x);
  if (fromHalf(h) >= x) return h;
  return stepHalf(h, 1);
}

// The float16 next to h towards −∞ (dir −1) or +∞ (dir +1).
function stepHalf(h: number, dir: number): number {
  if ((h & 0x7fff) === 0) return dir > 0 ? 0x0001 : 0x8001;
  const negative = (h & 0x8000) !== 0;
  return negative === dir > 0 ? h - 1 : h + 1;
}
