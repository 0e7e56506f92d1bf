// Key precision layouts at equal codec: key reconstruction error and attention error (full cache,
// decode protocol: append k_t, v_t, attend q_t; error ||approx − exact|| / ||exact|| at query times
// from n/4 every n/32, median over query times, then over heads), values kept float32 so the keys
// are what is measured. Two inputs:
//   - the outlier-channels construction of @kv/eval's synthetic family (Gaussian q and k, 4 channels
//     of every key offset by ±8, rescaled so ρ = r²τ = 4), d = 64, n = 1024, 8 seeds;
//   - the committed real-attention sample (data/real-attention: 4 heads of the tiny model, float16).
//
//   node --conditions=@kv/source --import tsx packages/core/bench/precision.bench.ts
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createKernelSums, type PrecisionSpec, Rng, SlotStore } from '../src/index.js';
import { fromHalf } from '../src/precision/half.js';

interface Stream {
  readonly n: number;
  readonly d: number;
  readonly q: Float32Array;
  readonly k: Float32Array;
  readonly v: Float32Array;
}

const median = (a: readonly number[]): number => {
  const s = [...a].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/**
 * The outlier-channels construction: Gaussian queries and keys, `outliers` random channels of
 * every key offset by ±`offset`, rescaled together so max ‖q‖, ‖k‖ = r with r²/√d = ρ.
 * @param seed - Seed.
 * @param n - Tokens.
 * @param d - Dimension.
 * @returns The stream.
 */
export function outlierStream(seed: number, n = 1024, d = 64, outliers = 4, offset = 8, rho = 4): Stream {
  const rng = new Rng(seed);
  const q = rng.fillGaussian(new Float32Array(n * d), 1);
  const k = rng.fillGaussian(new Float32Array(n * d), 1);
  const v = rng.fillGaussian(new Float32Array(n * d), 1);
  for (let c = 0; c < outliers; c++) {
    const ch = rng.int(d);
    const off = rng.uniform() < 0.5 ? -offset : offset;
    for (let t = 0; t < n; t++) k[t * d + ch] = k[t * d + ch]! + off;
  }
  let m = 0;
  for (const x of [q, k]) {
    for (let t = 0; t < n; t++) {
      let ss = 0;
      for (let j = 0; j < d; j++) ss += x[t * d + j]! ** 2;
      m = Math.max(m, Math.sqrt(ss));
    }
  }
  const f = Math.sqrt(rho * Math.sqrt(d)) / m;
  for (const x of [q, k]) for (let i = 0; i < x.length; i++) x[i] = x[i]! * f;
  return { n, d, q, k, v };
}

// A float16 .npy file as float32 (the sample's format: '<f2', C order, 2-D).
function readNpyF16(path: string): { rows: number; cols: number; data: Float32Array } {
  const b = readFileSync(path);
  const headerLen = b.readUInt16LE(8);
  const header = b.subarray(10, 10 + headerLen).toString('latin1');
  const shape = /'shape':\s*\((\d+),\s*(\d+)\)/.exec(header);
  if (!header.includes("'<f2'") || shape === null) throw new Error(`${path}: expected a 2-D <f2 array`);
  const rows = Number(shape[1]);
  const cols = Number(shape[2]);
  const data = new Float32Array(rows * cols);
  for (let i = 0; i < data.length; i++) data[i] = fromHalf(b.readUInt16LE(10 + headerLen + 2 * i));
  return { rows, cols, data };
}

/**
 * The heads of the committed real-attention sample.
 * @param dir - The sample folder (default data/real-attention of the repository).
 * @returns One stream per head.
 */
export function sampleStreams(dir = fileURLToPath(new URL('../../../data/real-attention', import.meta.url))): Stream[] {
  const heads = readdirSync(dir).filter((f) => f.endsWith('.q.npy')).map((f) => f.slice(0, -'.q.npy'.length)).sort();
  return heads.map((h) => {
    const q = readNpyF16(join(dir, `${h}.q.npy`));
    return { n: q.rows, d: q.cols, q: q.data, k: readNpyF16(join(dir, `${h}.k.npy`)).data, v: readNpyF16(join(dir, `${h}.v.npy`)).data };
  });
}

/**
 * Key error and median attention error of one stream at one precision (full cache).
 * @param tr - The stream.
 * @param precision - The keys' precision (values should stay f32 to isolate the keys).
 * @returns Relative key error (Frobenius) and median relative attention error.
 */
export function keyErrors(tr: Stream, precision: PrecisionSpec): { key: number; attn: number } {
  const d = tr.d;
  const tau = 1 / Math.sqrt(d);
  const st = new SlotStore(d, d, { precision, seed: 1, eviction: 'fifo' });
  const ex = new SlotStore(d, d);
  const a = createKernelSums(d);
  const b = createKernelSums(d);
  const errs: number[] = [];
  const from = tr.n / 4;
  const every = tr.n / 32;
  for (let t = 0; t < tr.n; t++) {
    st.push(tr.k, t * d, tr.v, t * d, t, 0);
    ex.push(tr.k, t * d, tr.v, t * d, t, 0);
    if (t < from || (t - from) % every !== 0) continue;
    const q = tr.q.subarray(t * d, (t + 1) * d);
    st.sums(q, tau, a);
    ex.sums(q, tau, b);
    let num = 0;
    let den = 0;
    for (let j = 0; j < d; j++) {
      const x = a.n[j]! / a.z;
      const y = b.n[j]! / b.z;
      num += (x - y) ** 2;
      den += y * y;
    }
    errs.push(Math.sqrt(num / den));
  }
  const k = new Float64Array(d);
  let e = 0;
  let nn = 0;
  for (let t = 0; t < st.count; t++) {
    st.readKey(t, k);
    for (let j = 0; j < d; j++) {
      e += (k[j]! - tr.k[t * d + j]!) ** 2;
      nn += tr.k[t * d + j]! ** 2;
    }
  }
  return { key: Math.sqrt(e / nn), attn: median(errs) };
}

/** The layouts compared. */
export const LAYOUTS: readonly [string, PrecisionSpec][] = [
  ['int4, token groups of 32', { keys: 'int4', values: 'f32' }],
  ['int4, token groups of 32, rotated', { keys: 'int4', values: 'f32', rotate: true }],
  ['int4, one group per row', { keys: 'int4', values: 'f32', group: 64 }],
  ['int4, one group per row, rotated', { keys: 'int4', values: 'f32', group: 64, rotate: true }],
  ['int4, channel groups of 32 tokens (KIVI)', { keys: 'int4', values: 'f32', keyGroups: 'channel' }],
  ['int2, token groups of 32', { keys: 'int2', values: 'f32' }],
  ['int2, token groups of 32, rotated', { keys: 'int2', values: 'f32', rotate: true }],
  ['int2, rotated, Lloyd–Max', { keys: 'int2', values: 'f32', rotate: true, codebook: 'lloyd-max' }],
  ['int2, channel groups (KIVI)', { keys: 'int2', values: 'f32', keyGroups: 'channel' }],
];

/**
 * The table (markdown).
 * @returns The report.
 */
export function precisionReport(): string {
  const synth = Array.from({ length: 8 }, (_, seed) => outlierStream(seed));
  const real = sampleStreams();
  const lines = ['| keys | outlier-channels key err | outlier-channels attn err | sample key err | sample attn err |', '| --- | ---: | ---: | ---: | ---: |'];
  for (const [name, p] of LAYOUTS) {
    const s = synth.map((t) => keyErrors(t, p));
    const r = real.map((t) => keyErrors(t, p));
    const f = (x: number) => x.toFixed(4);
    lines.push(`| ${name} | ${f(median(s.map((x) => x.key)))} | ${f(median(s.map((x) => x.attn)))} | ${f(median(r.map((x) => x.key)))} | ${f(median(r.map((x) => x.attn)))} |`);
  }
  return lines.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) console.log(precisionReport());
