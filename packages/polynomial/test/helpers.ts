import { createKernelSums, ExactCache, type KernelSums, nrm2, PolicyRegistry, Rng } from '@kv/core';
import { polynomialPolicies } from '../src/index.js';

export const registry = new PolicyRegistry().register(...polynomialPolicies);

/** A vector drawn uniformly in the ball of radius r (direction Gaussian, radius r·U^{1/d}). */
export function inBall(rng: Rng, d: number, r: number, offset?: Float32Array): Float32Array {
  const v = rng.fillGaussian(new Float32Array(d));
  const n = nrm2(d, v, 1, 0);
  const len = r * rng.uniform() ** (1 / d);
  for (let j = 0; j < d; j++) v[j] = (v[j]! / n) * len + (offset ? offset[j]! : 0);
  return v;
}

/** A vector of norm exactly r (up to Float32 rounding), scaled down a hair so it never exceeds r. */
export function onSphere(rng: Rng, d: number, r: number): Float32Array {
  const v = rng.fillGaussian(new Float32Array(d));
  const n = nrm2(d, v, 1, 0);
  for (let j = 0; j < d; j++) v[j] = (v[j]! / n) * r * (1 - 1e-6);
  return v;
}

/** Errors of approximate kernel sums against exact ones, all in Float64. */
export interface SumsError {
  /** |Ẑ/Z − 1|. */
  z: number;
  /** ||N̂ − N|| / Z. */
  n: number;
  /** ||N̂/Ẑ − N/Z||. */
  output: number;
  /** Exact Z·e^{−m} with m the exact log scale (for positivity checks). */
  exactZ: number;
}

/** Compares sums in Float64. */
export function sumsError(approx: KernelSums, exact: KernelSums): SumsError {
  const scale = Math.exp(approx.m - exact.m);
  const s = approx.n.length;
  let n2 = 0;
  let o2 = 0;
  for (let j = 0; j < s; j++) {
    const dn = approx.n[j]! * scale - exact.n[j]!;
    n2 += dn * dn;
    const dout = approx.n[j]! / approx.z - exact.n[j]! / exact.z;
    o2 += dout * dout;
  }
  return { z: Math.abs((approx.z * scale) / exact.z - 1), n: Math.sqrt(n2) / exact.z, output: Math.sqrt(o2), exactZ: exact.z };
}

/** Exact sums of a query over an exact cache. */
export function exactSums(exact: ExactCache, q: Float32Array): KernelSums {
  return exact.sums(q, createKernelSums(exact.valueDim));
}

export { createKernelSums, ExactCache, Rng };
