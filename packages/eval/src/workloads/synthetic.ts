import { InvalidParamsError, mixSeed, Rng } from '@kv/core';
import type { HeadStream, SyntheticFamily, SyntheticWorkloadSpec, Workload } from './types.js';

/**
 * Every synthetic family, with a one-line description (for `kv-eval list`).
 *
 * @example
 * ```ts
 * import { syntheticFamilies } from '@kv/eval';
 * for (const [family, description] of Object.entries(syntheticFamilies)) console.log(`${family}: ${description}`);
 * ```
 */
export const syntheticFamilies: Readonly<Record<SyntheticFamily, string>> = {
  gaussian: 'i.i.d. Gaussian queries, keys and values, rescaled to radius r.',
  clustered: 'Keys and queries around a few random centres (params.clusters, default 8).',
  'heavy-hitters': 'Attention sinks at the start (params.sinks, 4) and heavy-hitter keys (params.heavy, 8) aligned with the queries.',
  rope: 'Keys and queries with a slowly varying content rotated by RoPE at their positions (params.ropeBase, 10000).',
  'outlier-channels': 'Gaussian keys with a few channels (params.outliers, 4) scaled up (params.outlierScale, 8), as in real K caches.',
  index:
    'Hard instance (INDEX reduction): random unit-direction keys (near-orthogonal) and Gaussian values; after a storage phase (params.storage, half the stream) each q_t equals the key of a random stored token, so the answer is its value: a cache that drops stored tokens answers another value, and one that rounds them answers a rounded value.',
};

const DEFAULT_RHO: Readonly<Record<SyntheticFamily, number>> = {
  gaussian: 4,
  clustered: 4,
  'heavy-hitters': 6,
  rope: 4,
  'outlier-channels': 4,
  index: 0, // derived from n
};

function intOption(name: string, value: number | undefined, fallback: number, min: number): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < min) throw new InvalidParamsError(`workload ${name} is ${String(value)}, expected an integer >= ${min}`);
  return v;
}

function param(spec: SyntheticWorkloadSpec, name: string, fallback: number): number {
  const v = spec.params?.[name];
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new InvalidParamsError(`workload parameter ${name} is ${JSON.stringify(v)}, expected a finite number`);
  }
  return v;
}

function normalizeRow(a: Float32Array, row: number, d: number, norm: number): void {
  let ss = 0;
  for (let j = 0; j < d; j++) ss += a[row * d + j]! * a[row * d + j]!;
  const f = ss > 0 ? norm / Math.sqrt(ss) : 0;
  for (let j = 0; j < d; j++) a[row * d + j]! *= f;
}

function maxRowNorm(a: Float32Array, d: number): number {
  let m = 0;
  for (let i = 0; i < a.length; i += d) {
    let ss = 0;
    for (let j = 0; j < d; j++) ss += a[i + j]! * a[i + j]!;
    m = Math.max(m, ss);
  }
  return Math.sqrt(m);
}

/**
 * Largest ||q|| and ||k|| of a stream (the radius r of the theorems).
 * @param head - A head stream.
 * @returns max over t of ||q_t|| and ||k_t||.
 * @example
 * ```ts
 * import { buildWorkload, streamRadius } from '@kv/eval';
 * streamRadius(buildWorkload({ family: 'gaussian', n: 8, d: 4 }, 0).heads[0]!);
 * ```
 */
export function streamRadius(head: HeadStream): number {
  return Math.max(maxRowNorm(head.queries, head.keyDim), maxRowNorm(head.keys, head.keyDim));
}

// Rescales queries and keys together (so logits scale by f²) until max norm equals r; float32
// rounding can leave the max a hair above r, so the final factor is nudged down.
function rescaleTo(q: Float32Array, k: Float32Array, d: number, r: number): void {
  const m = Math.max(maxRowNorm(q, d), maxRowNorm(k, d));
  if (m === 0) return;
  const f = (r / m) * (1 - 1e-6);
  for (let i = 0; i < q.length; i++) q[i]! *= f;
  for (let i = 0; i < k.length; i++) k[i]! *= f;
}

/**
 * Generates a synthetic workload. The stream is rescaled so that max ||q||, ||k|| = r exactly
 * (up to 1e-6), so ρ = r²τ is known; the hard `index` family defaults to ρ = max(8, 3·ln n) so
 * one key dominates every query's softmax.
 *
 * @param spec - Family, sizes and radius.
 * @param seed - Seed of every random draw (same seed, same stream).
 * @returns The workload (one head).
 * @throws `InvalidParamsError` (from `@kv/core`) for a bad size, radius or family parameter.
 * @example
 * ```ts
 * import { syntheticWorkload } from '@kv/eval';
 * const w = syntheticWorkload({ family: 'index', n: 256, d: 64 }, 1);
 * w.hard; // true
 * ```
 */
export function syntheticWorkload(spec: SyntheticWorkloadSpec, seed: number): Workload {
  const family = spec.family;
  if (!(family in syntheticFamilies)) {
    throw new InvalidParamsError(`unknown workload family "${String(family)}"; known: ${Object.keys(syntheticFamilies).join(', ')}, npy, safetensors`);
  }
  const n = intOption('n', spec.n, 512, 1);
  const d = intOption('d', spec.d, 64, 1);
  const s = intOption('s', spec.s, d, 1);
  const tau = 1 / Math.sqrt(d);
  let r: number;
  if (spec.r !== undefined) {
    if (!(Number.isFinite(spec.r) && spec.r > 0)) throw new InvalidParamsError(`workload r is ${spec.r}, expected a number > 0`);
    r = spec.r;
  } else {
    const rho = spec.rho ?? (family === 'index' ? Math.max(8, 3 * Math.log(n)) : DEFAULT_RHO[family]);
    if (!(Number.isFinite(rho) && rho > 0)) throw new InvalidParamsError(`workload rho is ${rho}, expected a number > 0`);
    r = Math.sqrt(rho / tau);
  }
  const rng = new Rng(mixSeed(seed, 0x5eed, Object.keys(syntheticFamilies).indexOf(family)));
  const q = new Float32Array(n * d);
  const k = new Float32Array(n * d);
  const v = new Float32Array(n * s);
  rng.fillGaussian(v);
  let firstQuery = 0;
  switch (family) {
    case 'gaussian':
      rng.fillGaussian(q);
      rng.fillGaussian(k);
      break;
    case 'clustered': {
      const c = Math.max(1, Math.round(param(spec, 'clusters', 8)));
      const spread = param(spec, 'spread', 0.3);
      const centres = rng.fillGaussian(new Float32Array(c * d));
      for (let i = 0; i < c; i++) normalizeRow(centres, i, d, Math.sqrt(d));
      for (let t = 0; t < n; t++) {
        const ck = rng.int(c);
        const cq = rng.int(c);
        for (let j = 0; j < d; j++) {
          k[t * d + j] = centres[ck * d + j]! + spread * rng.gaussian();
          q[t * d + j] = centres[cq * d + j]! + spread * rng.gaussian();
        }
      }
      break;
    }
    case 'heavy-hitters': {
      const sinks = Math.max(0, Math.round(param(spec, 'sinks', 4)));
      const heavy = Math.max(0, Math.round(param(spec, 'heavy', 8)));
      const u = rng.fillGaussian(new Float32Array(d));
      normalizeRow(u, 0, d, Math.sqrt(d));
      rng.fillGaussian(k, 0.5);
      for (let t = 0; t < n; t++) for (let j = 0; j < d; j++) q[t * d + j] = u[j]! + 0.5 * rng.gaussian();
      const special = new Int32Array(Math.min(n, sinks + heavy));
      for (let i = 0; i < Math.min(n, sinks); i++) special[i] = i;
      for (let i = sinks; i < special.length; i++) special[i] = sinks + rng.int(Math.max(1, n - sinks));
      for (const t of special) for (let j = 0; j < d; j++) k[t * d + j] = 1.5 * u[j]! + 0.2 * rng.gaussian();
      break;
    }
    case 'rope': {
      const base = param(spec, 'ropeBase', 10000);
      const drift = rng.fillGaussian(new Float32Array(d));
      const qk = rng.fillGaussian(new Float32Array(d));
      for (let t = 0; t < n; t++) {
        for (let j = 0; j < d; j++) {
          k[t * d + j] = drift[j]! + 0.7 * rng.gaussian();
          q[t * d + j] = qk[j]! + 0.7 * rng.gaussian();
        }
        // Rotate consecutive channel pairs by angle t·base^(−2i/d), as Llama's RoPE does.
        for (let i = 0; 2 * i + 1 < d; i++) {
          const theta = t * Math.pow(base, (-2 * i) / d);
          const c = Math.cos(theta);
          const sn = Math.sin(theta);
          for (const a of [k, q]) {
            const x = a[t * d + 2 * i]!;
            const y = a[t * d + 2 * i + 1]!;
            a[t * d + 2 * i] = x * c - y * sn;
            a[t * d + 2 * i + 1] = x * sn + y * c;
          }
        }
      }
      break;
    }
    case 'outlier-channels': {
      const outliers = Math.min(d, Math.max(0, Math.round(param(spec, 'outliers', 4))));
      const scale = param(spec, 'outlierScale', 8);
      rng.fillGaussian(q);
      rng.fillGaussian(k);
      const order = Int32Array.from({ length: d }, (_, i) => i);
      for (let i = 0; i < outliers; i++) {
        const j = i + rng.int(d - i);
        const tmp = order[i]!;
        order[i] = order[j]!;
        order[j] = tmp;
      }
      const channels = order.subarray(0, outliers);
      // Outlier channels carry a large per-channel offset in every key, not just noise.
      for (const c of channels) {
        const offset = scale * (rng.uniform() < 0.5 ? -1 : 1);
        for (let t = 0; t < n; t++) k[t * d + c] = offset + k[t * d + c]!;
      }
      break;
    }
    case 'index': {
      // Storage phase (Alice's message): the first `storage`·n tokens, whose queries are not asked.
      // Query phase: tokens keep arriving and each q_t copies the key of a uniformly random token
      // of the storage phase, so the answer is that token's value. Keys are random unit directions
      // (near-orthogonal for d ≳ log n) and values Gaussian, so no finite-bit code holds them exactly.
      const storage = Math.min(n, Math.max(1, Math.round(param(spec, 'storage', 0.5) * n)));
      firstQuery = storage < n ? storage : 0;
      rng.fillGaussian(k);
      for (let t = 0; t < n; t++) {
        normalizeRow(k, t, d, 1);
        const target = t < storage ? t : rng.int(storage);
        q.set(k.subarray(target * d, target * d + d), t * d);
      }
      break;
    }
  }
  rescaleTo(q, k, d, r);
  const head: HeadStream = { label: 'h0', length: n, keyDim: d, valueDim: s, queries: q, keys: k, values: v, firstQuery };
  const radius = streamRadius(head);
  return {
    name: spec.name ?? family,
    family,
    description: syntheticFamilies[family],
    heads: [head],
    length: n,
    keyDim: d,
    valueDim: s,
    radius,
    tau,
    rho: radius * radius * tau,
    hard: family === 'index',
  };
}
