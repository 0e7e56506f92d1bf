// Platform-neutral: runs in Node and, bundled, in the browser. Streams a seeded synthetic
// workload through several policies and returns each one's error against exact attention.
import { compareToExact, ExactCache, exactPolicy, PolicyRegistry, Rng, setKernelBackend } from '@kv/core';
import { coresetPolicies } from '@kv/coreset';
import { heuristicPolicies } from '@kv/heuristics';
import { polynomialPolicies } from '@kv/polynomial';

export interface PolicyResult {
  policy: string;
  relativeError: number;
  bytes: number;
  checksum: number;
}

/**
 * Streams the workload through every policy and measures each one against exact attention.
 * @returns One result per policy, in the order of its specs.
 * @throws {InvalidParamsError} or {InvalidBudgetError} if a policy package no longer accepts
 *   these specs, {UnknownPolicyError} if it no longer registers one of them (the inputs are fixed
 *   and valid, so nothing else can throw).
 */
export function runWorkload(): PolicyResult[] {
  // The default 'wasm' kernels use fused multiply-adds where the engine has relaxed SIMD (Chrome
  // does, Node 20 does not), so their last bits differ between the two. The JavaScript Float64
  // reference is bit-identical everywhere, which is what this comparison needs.
  // cannot throw: 'js' is always available
  setKernelBackend('js');
  const d = 16;
  const steps = 300;
  const registry = new PolicyRegistry().register(exactPolicy, ...heuristicPolicies, ...coresetPolicies, ...polynomialPolicies);
  const specs = [
    { policy: 'sliding-window', budget: 64 },
    { policy: 'streaming-llm', budget: 64 },
    { policy: 'h2o', budget: 64 },
    { policy: 'kivi', params: { bits: 2 } },
    { policy: 'balancekv', params: { sink: 8, window: 16, blockSize: 32, halvings: 2 } },
    { policy: 'uniform', budget: 64, params: { sink: 4, window: 16 } },
    { policy: 'taylor', params: { degree: 2 } },
    { policy: 'performer', params: { features: 64 } },
  ];
  const caches = specs.map((s) => registry.create({ ...s, keyDim: d, valueDim: d, seed: 1 }));
  const exact = new ExactCache({ policy: 'exact', keyDim: d, valueDim: d });
  const rng = new Rng(2026);
  const k = new Float32Array(d);
  const v = new Float32Array(d);
  const q = new Float32Array(d);
  const out = new Float32Array(d);
  const errors = specs.map(() => 0);
  const checksums = specs.map(() => 0);
  // cannot throw: rows of the caches' own dimensions, finite, each query after an append
  for (let t = 0; t < steps; t++) {
    rng.fillGaussian(k, 0.5);
    rng.fillGaussian(v);
    rng.fillGaussian(q, 0.5);
    exact.append(k, v);
    caches.forEach((c, i) => {
      c.append(k, v);
      c.attend(q, out);
      errors[i]! += compareToExact(exact, q, out).relative / steps;
      for (const x of out) checksums[i]! += x;
    });
  }
  return caches.map((c, i) => ({ policy: specs[i]!.policy, relativeError: errors[i]!, bytes: c.bytes, checksum: checksums[i]! }));
}
