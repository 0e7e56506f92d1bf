import { AssumptionViolatedError, type KernelSums } from '@kv/core';

/**
 * Writes the sums whose N comes from `numerator` and whose Z comes from `denominator` (two
 * estimators over different rows) into `out`, on a common log scale.
 *
 * @param numerator - Sums whose `n` (and `m`) estimate N.
 * @param denominator - Sums whose `z` (and `m`) estimate Z.
 * @param out - Receives the combined sums.
 * @param policy - Policy name, for the error message.
 * @returns `out`.
 * @throws `AssumptionViolatedError` when N/Z is not representable: the two estimates' log
 *   scales differ by more than a double's range (keys and queries of huge norm), so the answer
 *   would be ±Infinity.
 * @example
 * ```ts
 * import { combineSeparateSums } from '@kv/coreset';
 * const n = { m: 2, z: 0, n: new Float64Array([3]) };
 * const z = { m: 1, z: 4, n: new Float64Array(0) };
 * combineSeparateSums(n, z, { m: 0, z: 0, n: new Float64Array(1) }, 'demo'); // N/Z = 3e/4
 * ```
 */
export function combineSeparateSums(numerator: KernelSums, denominator: KernelSums, out: KernelSums, policy: string): KernelSums {
  const m = Math.max(numerator.m, denominator.m);
  const z = denominator.z * Math.exp(denominator.m - m);
  const scale = numerator.m === -Infinity ? 0 : Math.exp(numerator.m - m);
  let top = 0;
  for (let j = 0; j < out.n.length; j++) {
    const v = numerator.n[j]! * scale;
    out.n[j] = v;
    top = Math.max(top, Math.abs(v));
  }
  if (!(z > 0) || !Number.isFinite(top / z)) {
    throw new AssumptionViolatedError(
      `${policy}: the separate numerator and denominator estimates differ in log scale by ${numerator.m - denominator.m}, so N/Z is not representable (logits far outside the policy's assumptions)`,
    );
  }
  out.m = m;
  out.z = z;
  return out;
}
