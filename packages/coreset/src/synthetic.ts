import { Rng } from '@kv/core';

/** A synthetic stream of keys, values and queries (row-major). */
export interface SyntheticStream {
  /** Tokens. */
  readonly n: number;
  /** Key dimension. */
  readonly d: number;
  /** Value dimension. */
  readonly s: number;
  /** n·d keys. */
  readonly keys: Float32Array;
  /** n·s values. */
  readonly values: Float32Array;
  /** queries·d queries. */
  readonly queries: Float32Array;
}

/** Options of {@link clusteredStream}. */
export interface ClusteredStreamOptions {
  /** Tokens. */
  readonly n: number;
  /** Key dimension. */
  readonly d: number;
  /** Value dimension. */
  readonly s: number;
  /** Number of clusters. */
  readonly clusters: number;
  /** Norm of the cluster centres of the keys. */
  readonly centreNorm: number;
  /** Per-coordinate noise of keys around their centre. */
  readonly keyNoise: number;
  /** Per-coordinate noise of values around their cluster's value centre. */
  readonly valueNoise: number;
  /** Mean length of runs of consecutive tokens from one cluster (1: i.i.d. cluster labels). */
  readonly runLength: number;
  /** Queries to draw (near a random cluster centre). */
  readonly queries: number;
  /** Seed. */
  readonly seed: number;
}

/**
 * A clustered/structured synthetic stream: keys are Gaussian around a few centres of norm
 * `centreNorm`, tokens come in runs from one cluster, each cluster has its own value mean, and
 * queries point at cluster centres. Used by the tests and the benchmark (not exported).
 *
 * @param o - Shape of the stream.
 * @returns The stream.
 */
export function clusteredStream(o: ClusteredStreamOptions): SyntheticStream {
  const rng = new Rng(o.seed);
  const { n, d, s } = o;
  const centres = new Float64Array(o.clusters * d);
  const valueCentres = new Float64Array(o.clusters * s);
  for (let c = 0; c < o.clusters; c++) {
    let nn = 0;
    for (let j = 0; j < d; j++) {
      const g = rng.gaussian();
      centres[c * d + j] = g;
      nn += g * g;
    }
    const f = o.centreNorm / Math.sqrt(nn);
    for (let j = 0; j < d; j++) centres[c * d + j]! *= f;
    for (let j = 0; j < s; j++) valueCentres[c * s + j] = rng.gaussian();
  }
  const keys = new Float32Array(n * d);
  const values = new Float32Array(n * s);
  let c = rng.int(o.clusters);
  for (let i = 0; i < n; i++) {
    if (rng.uniform() < 1 / o.runLength) c = rng.int(o.clusters);
    for (let j = 0; j < d; j++) keys[i * d + j] = centres[c * d + j]! + o.keyNoise * rng.gaussian();
    for (let j = 0; j < s; j++) values[i * s + j] = valueCentres[c * s + j]! + o.valueNoise * rng.gaussian();
  }
  const queries = new Float32Array(o.queries * d);
  for (let i = 0; i < o.queries; i++) {
    const qc = rng.int(o.clusters);
    for (let j = 0; j < d; j++) queries[i * d + j] = centres[qc * d + j]! + o.keyNoise * rng.gaussian();
  }
  return { n, d, s, keys, values, queries };
}
