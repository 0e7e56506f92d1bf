// Figures for @kv/lsh: error vs memory, and attend time vs n, against exact attention.
// Run: node --conditions=@kv/source --import tsx packages/lsh/bench/lsh.bench.ts
// Streams are synthetic and clustered (keys around 32 topic directions, queries near one topic),
// values = topic content + noise; ρ = 16 (real LLMs have ρ ≈ 20, algorithms.md §1).
import { ExactCache, type HeadCache, normalizedError, PolicyRegistry, relativeError, Rng } from '@kv/core';
import { type LshHeavyKeys, lshPolicies } from '../src/index.js';

const registry = new PolicyRegistry().register(...lshPolicies);
/** Largest typical logit ρ = τ·r² (keys have norms 0.7r–1.3r, queries r). */
const RHO = 16;

interface Stream {
  d: number;
  keys: Float32Array;
  values: Float32Array;
  queries: Float32Array;
  q: number;
}

function clusteredStream(seed: number, n: number, d: number, queries: number, radius: number): Stream {
  const rng = new Rng(seed);
  const topics = 32;
  const centers = rng.fillGaussian(new Float32Array(topics * d), 1 / Math.sqrt(d));
  const keys = new Float32Array(n * d);
  // Values carry their topic's content plus noise, so attention outputs have a real signal.
  const valueCenters = rng.fillGaussian(new Float32Array(topics * d));
  const values = rng.fillGaussian(new Float32Array(n * d), 0.7);
  const row = new Float32Array(d);
  let topic = 0;
  const place = (out: Float32Array, off: number, spread: number, norm: number): void => {
    const c = rng.int(topics);
    topic = c;
    let n2 = 0;
    for (let j = 0; j < d; j++) {
      row[j] = centers[c * d + j]! + (spread * rng.gaussian()) / Math.sqrt(d);
      n2 += row[j]! * row[j]!;
    }
    const f = norm / Math.sqrt(n2);
    for (let j = 0; j < d; j++) out[off + j] = row[j]! * f;
  };
  for (let i = 0; i < n; i++) {
    place(keys, i * d, 0.8, radius * (0.7 + 0.6 * rng.uniform()));
    for (let j = 0; j < d; j++) values[i * d + j]! += valueCenters[topic * d + j]!;
  }
  const qs = new Float32Array(queries * d);
  for (let i = 0; i < queries; i++) place(qs, i * d, 0.5, radius);
  return { d, keys, values, queries: qs, q: queries };
}

/** Uniform-sampling baseline at a byte budget: Algorithm R over the stream, weight n/|S|. */
function uniformAttend(stream: Stream, n: number, bytes: number, seed: number, out: Float32Array[]): number {
  const d = stream.d;
  const slots = Math.max(1, Math.floor(bytes / (4 * 2 * d + 4)));
  const rng = new Rng(seed);
  const chosen: number[] = [];
  for (let i = 0; i < n; i++) {
    if (i < slots) chosen.push(i);
    else {
      const j = rng.int(i + 1);
      if (j < slots) chosen[j] = i;
    }
  }
  const cache = new ExactCache({ policy: 'exact', keyDim: d, valueDim: d });
  for (const i of chosen) cache.append(stream.keys.subarray(i * d, (i + 1) * d), stream.values.subarray(i * d, (i + 1) * d));
  for (let qi = 0; qi < stream.q; qi++) cache.attend(stream.queries.subarray(qi * d, (qi + 1) * d), out[qi]!);
  return slots * (8 * d + 4);
}

function errors(stream: Stream, exact: ExactCache, outs: Float32Array[]): { rel: number; norm: number } {
  const d = stream.d;
  let rel = 0;
  let norm = 0;
  const want = new Float32Array(d);
  for (let qi = 0; qi < stream.q; qi++) {
    const q = stream.queries.subarray(qi * d, (qi + 1) * d);
    exact.attend(q, want);
    rel += relativeError(outs[qi]!, want);
    norm += normalizedError(outs[qi]!, want, exact.softmaxNorm(q), exact.valueFrobeniusNorm);
  }
  return { rel: rel / stream.q, norm: norm / stream.q };
}

function errorVsMemory(d: number): void {
  const n = 16384;
  const stream = clusteredStream(7, n, d, 24, Math.sqrt(RHO * Math.sqrt(d)));
  const exact = new ExactCache({ policy: 'exact', keyDim: d, valueDim: d });
  exact.prefill(stream.keys, stream.values);
  const outs = Array.from({ length: stream.q }, () => new Float32Array(d));
  console.log(`\n### Error vs memory (n = ${n}, d = s = ${d}, ρ = ${RHO}, 24 queries, mean over queries)\n`);
  console.log('| policy | budget (tokens) | bytes held | compression | relative error | normalized error |');
  console.log('|---|---:|---:|---:|---:|---:|');
  const full = 4 * n * 2 * d;
  for (const budget of [256, 512, 1024, 2048, 4096]) {
    const rows: [string, HeadCache | null][] = [
      ['lsh-heavy (norm)', registry.create({ policy: 'lsh-heavy', keyDim: d, valueDim: d, budget, seed: 1, params: { hashes: 6, tables: 6 } })],
      ['lsh-heavy (recent)', registry.create({ policy: 'lsh-heavy', keyDim: d, valueDim: d, budget, seed: 1, params: { hashes: 6, tables: 6, retain: 'recent' } })],
      ['lsh-heavy (norm, sample 512)', registry.create({ policy: 'lsh-heavy', keyDim: d, valueDim: d, budget, seed: 1, params: { hashes: 6, tables: 6, sample: 512 } })],
      ['lsh-multirate', registry.create({ policy: 'lsh-multirate', keyDim: d, valueDim: d, budget, seed: 1 })],
      ['uniform reservoir', null],
    ];
    for (const [name, cache] of rows) {
      let bytes: number;
      if (cache) {
        cache.prefill(stream.keys, stream.values);
        for (let qi = 0; qi < stream.q; qi++) cache.attend(stream.queries.subarray(qi * d, (qi + 1) * d), outs[qi]!);
        bytes = cache.bytes;
      } else {
        bytes = uniformAttend(stream, n, budget * 4 * 2 * d, 3, outs);
      }
      const e = errors(stream, exact, outs);
      console.log(`| ${name} | ${budget} | ${bytes} | ${(full / bytes).toFixed(1)}× | ${e.rel.toFixed(4)} | ${e.norm.toFixed(4)} |`);
    }
  }
}

function timeVsN(d: number): void {
  const maxN = 131072;
  const checkpoints = [1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072];
  const stream = clusteredStream(11, maxN, d, 32, Math.sqrt(RHO * Math.sqrt(d)));
  const exact = new ExactCache({ policy: 'exact', keyDim: d, valueDim: d });
  const heavy = registry.create({ policy: 'lsh-heavy', keyDim: d, valueDim: d, budget: 2048, seed: 1, params: { hashes: 6, tables: 6 } });
  const multi = registry.create({ policy: 'lsh-multirate', keyDim: d, valueDim: d, budget: 2048, seed: 1 });
  // Every key indexed (budget above n, no reservoir): query time is then hashing + candidates +
  // the fixed sample, the LSH speed-up proper, with k = 10 bits so candidates are ~L·n/1024.
  const indexed = registry.create({
    policy: 'lsh-heavy', keyDim: d, valueDim: d, budget: 2 * maxN, seed: 1,
    params: { hashes: 10, tables: 8, tailFraction: 0, retain: 'recent', sample: 64 },
  });
  const out = new Float32Array(d);
  console.log(`\n### Attend time vs n (d = s = ${d}, ρ = ${RHO}; µs per query, median of 32; relative error, mean of 32)\n`);
  console.log('Budgeted: lsh-heavy and lsh-multirate at 2048 tokens. All-indexed: lsh-heavy holding every key (k = 10, L = 8, sample 64).\n');
  console.log('| n | exact µs | heavy@2048 µs | multirate@2048 µs | all-indexed µs | all-indexed candidates | heavy@2048 err | multirate@2048 err | all-indexed err |');
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  let done = 0;
  const want = new Float32Array(d);
  for (const n of checkpoints) {
    const k = stream.keys.subarray(done * d, n * d);
    const v = stream.values.subarray(done * d, n * d);
    exact.prefill(k, v);
    heavy.prefill(k, v);
    multi.prefill(k, v);
    indexed.prefill(k, v);
    done = n;
    const time = (cache: HeadCache): number => {
      const ts: number[] = [];
      for (let qi = 0; qi < stream.q; qi++) {
        const q = stream.queries.subarray(qi * d, (qi + 1) * d);
        const t0 = performance.now();
        cache.attend(q, out);
        ts.push(performance.now() - t0);
      }
      ts.sort((a, b) => a - b);
      return ts[ts.length >> 1]! * 1000;
    };
    const err = (cache: HeadCache): number => {
      let e = 0;
      for (let qi = 0; qi < stream.q; qi++) {
        const q = stream.queries.subarray(qi * d, (qi + 1) * d);
        e += relativeError(cache.attend(q, out), exact.attend(q, want));
      }
      return e / stream.q;
    };
    const te = time(exact);
    const th = time(heavy);
    const tm = time(multi);
    const ti = time(indexed);
    let cand = 0;
    for (let qi = 0; qi < stream.q; qi++) cand += (indexed as LshHeavyKeys).retrieve(stream.queries.subarray(qi * d, (qi + 1) * d)).length;
    console.log(
      `| ${n} | ${te.toFixed(0)} | ${th.toFixed(0)} | ${tm.toFixed(0)} | ${ti.toFixed(0)} | ${(cand / stream.q).toFixed(0)} | ${err(heavy).toFixed(3)} | ${err(multi).toFixed(3)} | ${err(indexed).toFixed(3)} |`,
    );
  }
}

const t0 = performance.now();
for (const d of [64, 128]) errorVsMemory(d);
for (const d of [64, 128]) timeVsN(d);
console.log(`\n(total ${((performance.now() - t0) / 1000).toFixed(0)} s)`);
