import { compareToExact, ExactCache, type HeadCache, Rng } from '@kv/core';

/** A random stream with keys and queries on the sphere of radius r (so ρ = r²τ exactly) and Gaussian values. */
export interface SphereStream {
  readonly keys: Float32Array;
  readonly values: Float32Array;
  readonly queries: Float32Array;
  readonly n: number;
  readonly queryCount: number;
}

function fillSphere(rng: Rng, out: Float32Array, offset: number, d: number, r: number): void {
  let n2 = 0;
  for (let j = 0; j < d; j++) {
    const g = rng.gaussian();
    out[offset + j] = g;
    n2 += g * g;
  }
  const f = r / Math.sqrt(n2);
  for (let j = 0; j < d; j++) out[offset + j]! *= f;
}

/**
 * Keys uniform on the sphere of radius r around a few cluster directions (mixture), queries on the
 * sphere of radius r, values N(0, 1).
 */
export function sphereStream(seed: number, n: number, d: number, s: number, r: number, queryCount: number): SphereStream {
  const rng = new Rng(seed);
  const keys = new Float32Array(n * d);
  const values = new Float32Array(n * s);
  const queries = new Float32Array(queryCount * d);
  // Four key clusters; each value is its cluster's mean value plus noise, so kernel-sum errors do
  // not cancel between tokens (zero-mean values would hide truncation errors).
  const centres = new Float32Array(4 * d);
  const means = new Float32Array(4 * s);
  for (let c = 0; c < 4; c++) fillSphere(rng, centres, c * d, d, 1);
  for (let i = 0; i < 4 * s; i++) means[i] = 1 + rng.gaussian();
  const tmp = new Float32Array(d);
  for (let i = 0; i < n; i++) {
    const c = rng.int(4);
    fillSphere(rng, tmp, 0, d, 0.6);
    for (let j = 0; j < d; j++) tmp[j]! += centres[c * d + j]!;
    fillSphere(rng, keys, i * d, d, 1);
    let n2 = 0;
    for (let j = 0; j < d; j++) n2 += tmp[j]! * tmp[j]!;
    for (let j = 0; j < d; j++) keys[i * d + j] = (tmp[j]! * r) / Math.sqrt(n2);
    for (let j = 0; j < s; j++) values[i * s + j] = means[c * s + j]! + 0.5 * rng.gaussian();
  }
  for (let i = 0; i < queryCount; i++) fillSphere(rng, queries, i * d, d, r);
  return { keys, values, queries, n, queryCount };
}

/** Feeds the stream and returns the largest normalised error over its queries (and the exact cache). */
export function maxNormalizedError(cache: HeadCache, stream: SphereStream, tau: number): number {
  const d = cache.keyDim;
  const s = cache.valueDim;
  const exact = new ExactCache({ policy: 'exact', keyDim: d, valueDim: s, tau });
  for (let i = 0; i < stream.n; i++) {
    const k = stream.keys.subarray(i * d, (i + 1) * d);
    const v = stream.values.subarray(i * s, (i + 1) * s);
    cache.append(k, v);
    exact.append(k, v);
  }
  const out = new Float32Array(s);
  let worst = 0;
  for (let q = 0; q < stream.queryCount; q++) {
    const query = stream.queries.subarray(q * d, (q + 1) * d);
    cache.attend(query, out);
    const e = compareToExact(exact, query, out).normalized;
    if (!(e <= worst)) worst = e;
  }
  return worst;
}
