// Error vs memory of the polynomial caches against exact attention, and time per token.
// Run: node --conditions=@kv/source --import tsx packages/polynomial/bench/polynomial.bench.ts [--quick]
//
// Workload: n tokens, keys uniform on the unit sphere, values N(0, I_s), queries of norm ρ/τ on the
// sphere, so every logit satisfies |<q,k>τ| ≤ ρ. Logits depend only on <q,k>τ, and the Taylor and
// multipole errors only on ||q||·||k − c||·τ, so one polynomial cache per (d, degree) serves every ρ
// (only the query norm changes). Random features are not scale invariant (their variance grows with
// ||q||² + ||k||²), so they get keys and queries of equal norm sqrt(ρ/τ) per ρ.
import { compareToExact, ExactCache, type HeadCache, nrm2, PolicyRegistry, Rng } from '@kv/core';
import { type ErrorCertificate, expansionBytes, monomialCount, polynomialPolicies } from '../src/index.js';

const quick = process.argv.includes('--quick');
const registry = new PolicyRegistry().register(...polynomialPolicies);
const S = 16;
const N = quick ? 128 : 512;
const QUERIES = quick ? 4 : 16;
const RHOS = [0.5, 1, 2, 4];
const DIMS = [8, 16, 64];
const MAX_BYTES = 256 * 1024 * 1024;
// Skip configurations whose append work (monomials × (s+1) × n) would take minutes on a shared core.
const WORK_CAP = quick ? 2e8 : 8e9;

function sphere(rng: Rng, d: number, r: number): Float32Array {
  const v = rng.fillGaussian(new Float32Array(d));
  const n = nrm2(d, v, 1, 0);
  for (let j = 0; j < d; j++) v[j] = (v[j]! / n) * r;
  return v;
}

interface Row {
  d: number;
  rho: number;
  policy: string;
  config: string;
  bytes: number;
  relative: number;
  normalized: number;
  bound: string;
  appendUs: number;
  attendUs: number;
}

const rows: Row[] = [];
const fmt = (x: number): string => (x === Infinity ? '∞' : x === 0 ? '0' : x < 1e-3 || x >= 1e4 ? x.toExponential(1) : x.toPrecision(2));
const mib = (b: number): string => (b >= 2 ** 20 ? `${(b / 2 ** 20).toFixed(1)} MiB` : `${(b / 1024).toFixed(1)} KiB`);

function feed(cache: HeadCache, keys: Float32Array[], values: Float32Array[]): number {
  const t0 = performance.now();
  for (let i = 0; i < keys.length; i++) cache.append(keys[i]!, values[i]!);
  return ((performance.now() - t0) * 1000) / keys.length;
}

function measure(cache: HeadCache, exact: ExactCache, queries: Float32Array[]): { rel: number; norm: number; bound: number; us: number } {
  const out = new Float32Array(S);
  let rel = 0;
  let norm = 0;
  let bound = 0;
  let us = 0;
  for (const q of queries) {
    const reps = 3;
    const t0 = performance.now();
    for (let r = 0; r < reps; r++) cache.attend(q, out);
    us += ((performance.now() - t0) * 1000) / reps;
    const cert = (cache as unknown as { lastCertificate?: ErrorCertificate }).lastCertificate;
    if (cert) bound = Math.max(bound, cert.output);
    const m = compareToExact(exact, q, out);
    rel += m.relative;
    norm += m.normalized;
  }
  return { rel: rel / queries.length, norm: norm / queries.length, bound, us: us / queries.length };
}

// JIT warm-up: run every hot path (features, moments, gemv, random features) before timing anything.
{
  const rng = new Rng(7);
  for (const [policy, params] of [['taylor', { degree: 4 }], ['multipole', { degree: 2, cells: 4 }], ['performer', { features: 64 }]] as const) {
    const cache = registry.create({ policy, keyDim: 8, valueDim: S, params });
    const out = new Float32Array(S);
    for (let i = 0; i < 3000; i++) {
      cache.append(sphere(rng, 8, 1), rng.fillGaussian(new Float32Array(S)));
      if (i % 4 === 0) cache.attend(sphere(rng, 8, 1), out);
    }
  }
}

for (const d of DIMS) {
  const tau = 1 / Math.sqrt(d);
  const rng = new Rng(1000 + d);
  const keys = Array.from({ length: N }, () => sphere(rng, d, 1));
  const values = Array.from({ length: N }, () => rng.fillGaussian(new Float32Array(S)));
  const directions = Array.from({ length: QUERIES }, () => sphere(rng, d, 1));
  const exactUnit = new ExactCache({ policy: 'exact', keyDim: d, valueDim: S });
  feed(exactUnit, keys, values);
  const queriesFor = (rho: number): Float32Array[] => directions.map((u) => u.map((x) => (x * rho) / tau) as Float32Array);

  const polySpecs: { policy: string; config: string; params: Record<string, unknown>; work: number; bytes: number }[] = [];
  for (const g of [2, 4, 6, 8]) {
    const bytes = expansionBytes(d, S, g, 1);
    polySpecs.push({ policy: 'taylor', config: `g=${g}`, params: { degree: g }, work: monomialCount(d, g) * (S + 1) * N, bytes });
  }
  for (const p of [2, 4]) {
    const bytes = expansionBytes(d, S, p, 16);
    polySpecs.push({ policy: 'multipole', config: `p=${p}, 16 cells`, params: { degree: p, cells: 16, radius: 0.8 }, work: monomialCount(d, p) * (S + 1) * N, bytes });
  }
  for (const spec of polySpecs) {
    if (spec.bytes > MAX_BYTES) {
      for (const rho of RHOS) rows.push({ d, rho, policy: spec.policy, config: spec.config, bytes: spec.bytes, relative: NaN, normalized: NaN, bound: 'refused: > 256 MiB', appendUs: NaN, attendUs: NaN });
      continue;
    }
    if (spec.work > WORK_CAP) {
      for (const rho of RHOS) rows.push({ d, rho, policy: spec.policy, config: spec.config, bytes: spec.bytes, relative: NaN, normalized: NaN, bound: 'fits, skipped (time)', appendUs: NaN, attendUs: NaN });
      continue;
    }
    const cache = registry.create({ policy: spec.policy, keyDim: d, valueDim: S, params: spec.params });
    const appendUs = feed(cache, keys, values);
    for (const rho of RHOS) {
      const r = measure(cache, exactUnit, queriesFor(rho));
      rows.push({ d, rho, policy: spec.policy, config: spec.config, bytes: cache.bytes, relative: r.rel, normalized: r.norm, bound: fmt(r.bound), appendUs, attendUs: r.us });
    }
  }
  for (const rho of RHOS) {
    const r0 = Math.sqrt(rho / tau);
    const prng = new Rng(2000 + d);
    const pk = keys.map((k) => k.map((x) => x * r0) as Float32Array);
    const pq = directions.map((u) => u.map((x) => x * r0) as Float32Array);
    const exact = new ExactCache({ policy: 'exact', keyDim: d, valueDim: S });
    feed(exact, pk, values);
    for (const m of [64, 256, 1024]) {
      const cache = registry.create({ policy: 'performer', keyDim: d, valueDim: S, seed: prng.int(1e9), params: { features: m } });
      const appendUs = feed(cache, pk, values);
      const r = measure(cache, exact, pq);
      rows.push({ d, rho, policy: 'performer', config: `m=${m}`, bytes: cache.bytes, relative: r.rel, normalized: r.norm, bound: 'none', appendUs, attendUs: r.us });
    }
  }
}

const fullBytes = (d: number): number => 4 * N * (d + S);
console.log(`### Error vs memory against exact attention (n = ${N}, s = ${S}, ${QUERIES} queries, |<q,k>τ| ≤ ρ)\n`);
console.log('Full cache of n tokens: ' + DIMS.map((d) => `d=${d}: ${mib(fullBytes(d))}`).join(', ') + '. Errors are means over the queries; bound = largest certified ||ô − o||₂.\n');
console.log('| d | ρ | policy | config | bytes | rel. error | normalized error | certified bound | append µs/token | attend µs/query |');
console.log('|---|---|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(
    `| ${r.d} | ${r.rho} | ${r.policy} | ${r.config} | ${mib(r.bytes)} | ${Number.isNaN(r.relative) ? '—' : fmt(r.relative)} | ${Number.isNaN(r.normalized) ? '—' : fmt(r.normalized)} | ${r.bound} | ${Number.isNaN(r.appendUs) ? '—' : r.appendUs.toFixed(1)} | ${Number.isNaN(r.attendUs) ? '—' : r.attendUs.toFixed(1)} |`,
  );
}

console.log(`\n### Taylor memory by degree (Float64 moments + tables), limit 256 MiB\n`);
console.log('| d | s | g=2 | g=4 | g=6 | g=8 | largest even g under 256 MiB |');
console.log('|---|---|---|---|---|---|---|');
for (const d of DIMS) {
  for (const s of [...new Set([S, d])]) {
    const cells = [2, 4, 6, 8].map((g) => {
      const b = expansionBytes(d, s, g, 1);
      return b > MAX_BYTES ? `${(b / 2 ** 30).toFixed(1)} GiB ✗` : mib(b);
    });
    let best = 0;
    for (let g = 2; g <= 64; g += 2) if (expansionBytes(d, s, g, 1) <= MAX_BYTES) best = g;
    console.log(`| ${d} | ${s} | ${cells.join(' | ')} | ${best} |`);
  }
}
