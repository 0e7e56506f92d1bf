/**
 * Memory needed to reach a normalised error ε, for BalanceKV, Taylor moments alone and the
 * high-temperature hybrid (Taylor moments + residual coreset), at ρ = r²τ ∈ {0.5, 1, 2}.
 *
 * Run from the repository root:
 *   node --conditions=@kv/source --import tsx packages/hybrid/bench/hybrid.bench.ts
 *
 * Stream: d = s = 8, n = 4096 tokens, keys on the sphere of radius r around four cluster directions,
 * values = cluster mean + noise (so errors do not cancel), 16 queries on the sphere; two seeds. The
 * error of a configuration is its largest normalised error over the queries of both seeds; its
 * memory is `bytes` (every array held, scratch included) at the end of the stream. Each method's
 * size parameters are swept and the smallest memory reaching ε is reported.
 */
import { type HeadCache, PolicyRegistry, type PolicySpec } from '@kv/core';
import { coresetPolicies } from '@kv/coreset';
import { polynomialPolicies } from '@kv/polynomial';
import { hybridPolicies } from '../src/index.js';
import { deriveTaylorCoresetParameters } from '../src/taylor-coreset.js';
import { maxNormalizedError, sphereStream } from '../test/streams.js';

const registry = new PolicyRegistry().register(...coresetPolicies, ...polynomialPolicies, ...hybridPolicies);
// `D=32 node … hybrid.bench.ts` runs the d = 32 table (Taylor degree ≤ 3 there: degree 4 would need
// C(36, 4)·9 Float64 moments = 4.2 MB and minutes of appends).
const d = Number(process.env.D ?? 8);
const s = 8;
const n = d > 8 ? 2048 : 4096;
const tau = 1 / Math.sqrt(d);
const seeds = [1, 2];
const maxTaylor = d > 8 ? 3 : 7;
const maxHybrid = d > 8 ? 2 : 5;
const epsilons = [0.1, 0.03, 0.01];

type Choice = Omit<PolicySpec, 'keyDim' | 'valueDim'>;

function measure(choice: Choice, rho: number): { error: number; bytes: number } {
  const r = Math.sqrt(rho / tau);
  let error = 0;
  let bytes = 0;
  for (const seed of seeds) {
    const cache: HeadCache = registry.create({ ...choice, keyDim: d, valueDim: s, seed });
    error = Math.max(error, maxNormalizedError(cache, sphereStream(seed, n, d, s, r, 16), tau));
    bytes = Math.max(bytes, cache.bytes);
  }
  return { error, bytes };
}

function sweep(choices: Choice[], rho: number): { error: number; bytes: number; label: string }[] {
  return choices.map((c) => ({ ...measure(c, rho), label: JSON.stringify(c.params) }));
}

const rows: string[] = [];
const detail: string[] = [];
const started = Date.now();
for (const rho of [0.5, 1, 2]) {
  const r = Math.sqrt(rho / tau);
  const methods: Record<string, Choice[]> = {
    BalanceKV: [
      ...[32, 64, 128].flatMap((b) => [1, 2, 3, 4, 5].map((h) => ({ policy: 'balancekv', params: { sink: 0, window: 0, blockSize: b, halvings: h } }))),
      ...[32, 128, 512].map((b) => ({ policy: 'balancekv-theory', params: { radius: r * 1.0001, blockSize: b } })),
    ],
    'Taylor alone': Array.from({ length: maxTaylor + 1 }, (_, g) => ({ policy: 'taylor', params: { degree: g, allowOdd: true } })),
    hybrid: Array.from({ length: maxHybrid + 1 }, (_, t) => t).flatMap((t) => [4, 8, 16, 32, 64, 128, 256].map((b) => ({ policy: 'hybrid-taylor-coreset', params: { degree: t, blockSize: b } }))),
  };
  const results: Record<string, { error: number; bytes: number; label: string }[]> = {};
  for (const [name, choices] of Object.entries(methods)) results[name] = sweep(choices, rho);
  for (const eps of epsilons) {
    const cells = Object.entries(results).map(([name, res]) => {
      const ok = res.filter((x) => x.error <= eps).sort((a, b) => a.bytes - b.bytes)[0];
      if (ok) detail.push(`ρ=${rho} ε=${eps} ${name}: ${ok.bytes} B with ${ok.label} (error ${ok.error.toExponential(2)})`);
      return ok ? String(ok.bytes) : `> ${Math.max(...res.map((x) => x.bytes))}`;
    });
    const p = deriveTaylorCoresetParameters({ epsilon: eps, rho, keyDim: d, valueDim: s, horizon: n, maxDegree: maxHybrid });
    const derived = measure({ policy: 'hybrid-taylor-coreset', params: { epsilon: eps, rho, horizon: n, degree: p.degree, blockSize: p.blockSize } }, rho);
    rows.push(
      `| ${rho} | ${eps} | ${cells.join(' | ')} | t=${p.degree}, b=${p.blockSize}: ${derived.bytes} B, error ${derived.error.toExponential(2)} |`,
    );
  }
}
console.log(`# Memory (bytes) to reach normalised error ε — d = s = ${d}, n = ${n}, ${seeds.length} seeds × 16 queries\n`);
console.log('| ρ | ε | BalanceKV | Taylor alone | hybrid (best swept) | hybrid, derived parameters |');
console.log('| ---: | ---: | ---: | ---: | ---: | --- |');
for (const row of rows) console.log(row);
console.log(`\nExact cache for comparison: ${n * 4 * (d + s)} B of keys and values.\n`);
console.log('Smallest configuration reaching each ε:\n');
for (const line of detail) console.log(`- ${line}`);
console.log(`\n(${((Date.now() - started) / 1000).toFixed(0)} s)`);
