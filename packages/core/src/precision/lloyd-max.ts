// Lloyd–Max quantizer levels for a standard Gaussian (the distribution of a coordinate after a
// random rotation, up to the scale; TurboQuant, arXiv 2504.19874, §3). Computed by Lloyd's
// iteration to convergence (centroid of each cell, cells bounded by midpoints); the tables match
// Max (1960). A group is coded as σ·level[c] with σ its root mean square.

const LEVELS: Readonly<Record<number, readonly number[]>> = {
  1: [-0.797885, 0.797885],
  2: [-1.510418, -0.45278, 0.45278, 1.510418],
  3: [-2.151946, -1.343909, -0.756005, -0.245094, 0.245094, 0.756005, 1.343909, 2.151946],
  4: [
    -2.73259, -2.069017, -1.618046, -1.256231, -0.94234, -0.656759, -0.388048, -0.128395, 0.128395, 0.388048, 0.656759,
    0.94234, 1.256231, 1.618046, 2.069017, 2.73259,
  ],
};

/**
 * The Lloyd–Max levels of a unit Gaussian for `bits` bits (1…4), ascending.
 * @param bits - Bits per code.
 * @returns A Float64Array of 2^bits levels, or null when no table exists (8 bits: uniform levels
 *   are as good there).
 * @internal
 */
export function lloydMaxLevels(bits: number): Float64Array | null {
  const t = LEVELS[bits];
  return t ? Float64Array.from(t) : null;
}

/**
 * The code of the level nearest to `x` (levels ascending).
 * @param levels - Ascending levels.
 * @param x - The value in units of the group scale.
 * @returns The index of the nearest level.
 * @internal
 */
export function nearestLevel(levels: Float64Array, x: number): number {
  let lo = 0;
  let hi = levels.length - 1;
  // Binary search on the midpoints (at most 16 levels: four steps).
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (x > (levels[mid]! + levels[mid + 1]!) / 2) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
