/**
 * The paired measurements of `bench/RESULTS.md` on the tiny model's traces (`/work/traces`, written
 * by the team's `dump-traces.ts`: 4 texts × 4 layers × 3 heads × 1024 tokens; not in the repo).
 * Run from the repository root:
 *
 *   node --conditions=@kv/source --import tsx packages/hybrid/bench/trace-study.ts paired
 *   node --conditions=@kv/source --import tsx packages/hybrid/bench/trace-study.ts halving
 *
 * `paired`: BalanceKV, BalanceKV with fair halving and a uniform middle of a tiered cache (4 sinks,
 * window of half the budget) under the decode protocol of kv-eval, per head and seed; prints the
 * geometric mean over (head, seed) pairs of each error ratio to the uniform middle's.
 * `halving`: one halving of the real middle (blocks of B rows): answer error of the balanced walk
 * vs fair halving, and the middle's share of Z and effective number of tokens.
 * Env: TRACES (folder, default /work/traces), TEXTS (0,1,2,3), SEEDS (3), F (2,4,8,16), B (128).
 */
import { readFileSync } from 'node:fs';
import { exactPolicy, type HeadCache, PolicyRegistry, Rng } from '@kv/core';
import { BalancedHalving, coresetPolicies, type Halver, RandomHalving, RowBatch } from '@kv/coreset';
import { polynomialPolicies } from '@kv/polynomial';
import { hybridPolicies } from '../src/index.js';

interface Trace {
  /** Seed of the caches on this head (the team harness's: text·100 + layer·10 + head). */
  readonly seed: number;
  readonly n: number;
  readonly d: number;
  readonly q: Float32Array;
  readonly k: Float32Array;
  readonly v: Float32Array;
}

const dir = process.env['TRACES'] ?? '/work/traces';
const texts = (process.env['TEXTS'] ?? '0,1,2,3').split(',').map(Number);
const numbers = (name: string, fallback: string): number[] => (process.env[name] ?? fallback).split(',').map(Number);

// Layout of dump-traces.ts: per layer Q, K, V, each [n][heads][d] (K, V over kv heads).
function loadTraces(): Trace[] {
  const out: Trace[] = [];
  for (const text of texts) {
    const meta = JSON.parse(readFileSync(`${dir}/text${text}.json`, 'utf8')) as { n: number; layers: number; heads: number; kvHeads: number; d: number };
    const raw = readFileSync(`${dir}/text${text}.f32`);
    const all = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
    const { n, layers, heads, kvHeads, d } = meta;
    const per = n * heads * d;
    for (let l = 0; l < layers; l++) {
      const base = l * 3 * per;
      for (let h = 0; h < kvHeads; h++) {
        const q = new Float32Array(n * d);
        const k = new Float32Array(n * d);
        const v = new Float32Array(n * d);
        for (let t = 0; t < n; t++) {
          q.set(all.subarray(base + (t * heads + h) * d, base + (t * heads + h + 1) * d), t * d);
          k.set(all.subarray(base + per + (t * kvHeads + h) * d, base + per + (t * kvHeads + h + 1) * d), t * d);
          v.set(all.subarray(base + 2 * per + (t * kvHeads + h) * d, base + 2 * per + (t * kvHeads + h + 1) * d), t * d);
        }
        out.push({ seed: text * 100 + l * 10 + h, n, d, q, k, v });
      }
    }
  }
  return out;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

const registry = new PolicyRegistry().register(exactPolicy, ...hybridPolicies, ...polynomialPolicies, ...coresetPolicies);

// Decode protocol: append k_t, v_t, answer q_t at every step; score from n/4 every n/32.
function headError(tr: Trace, make: (budget: { fraction: number; minBytes: number }) => HeadCache, fraction: number): number {
  const { n, d } = tr;
  const from = n / 4;
  const every = n / 32;
  const exact = registry.create({ policy: 'exact', keyDim: d, valueDim: d });
  const cache = make({ fraction, minBytes: Math.floor(fraction * 8 * d * from) });
  const got = new Float32Array(d);
  const want = new Float32Array(d);
  const errors: number[] = [];
  for (let t = 0; t < n; t++) {
    const k = tr.k.subarray(t * d, (t + 1) * d);
    const v = tr.v.subarray(t * d, (t + 1) * d);
    const q = tr.q.subarray(t * d, (t + 1) * d);
    cache.append(k, v);
    exact.append(k, v);
    cache.attend(q, got);
    if (t < from || (t - from) % every !== 0) continue;
    exact.attend(q, want);
    let num = 0;
    let den = 0;
    for (let j = 0; j < d; j++) {
      num += (got[j]! - want[j]!) ** 2;
      den += want[j]! ** 2;
    }
    errors.push(Math.sqrt(num / den));
  }
  return median(errors);
}

function paired(): void {
  const traces = loadTraces();
  const seeds = numbers('SEEDS', '3')[0]!;
  const middle = (policy: string, params?: Record<string, unknown>) => ({ policy: 'tiered', params: { sinks: 4, window: { share: 0.5 }, middle: { policy, ...(params ? { params } : {}) } } });
  const configs: Record<string, ReturnType<typeof middle>> = {
    uniform: middle('uniform'),
    balancekv: middle('balancekv', { sink: 0, window: 0, blockShare: 0.25 }),
    'balancekv-random': middle('balancekv', { sink: 0, window: 0, blockShare: 0.25, halving: 'random' }),
  };
  console.log(`| rate | ${Object.keys(configs).join(' | ')} | balancekv / uniform | better | balancekv-random / uniform | balancekv / balancekv-random |`);
  for (const F of numbers('F', '2,4,8,16')) {
    const errors: Record<string, number[]> = {};
    for (const [name, choice] of Object.entries(configs)) {
      const list: number[] = [];
      for (const tr of traces) {
        for (let s = 0; s < seeds; s++) list.push(headError(tr, (budget) => registry.create({ ...choice, keyDim: tr.d, valueDim: tr.d, budget, seed: tr.seed + 1000 * s }), 1 / F));
      }
      errors[name] = list;
    }
    const ratio = (a: string, b: string): number => Math.exp(errors[a]!.reduce((acc, x, i) => acc + Math.log(x / errors[b]![i]!), 0) / errors[a]!.length);
    const better = errors['balancekv']!.filter((x, i) => x < errors['uniform']![i]!).length;
    const cells = Object.values(errors).map((e) => median(e).toFixed(4));
    console.log(`| 1/${F} | ${cells.join(' | ')} | ${ratio('balancekv', 'uniform').toFixed(3)} | ${better}/${errors['uniform']!.length} | ${ratio('balancekv-random', 'uniform').toFixed(3)} | ${ratio('balancekv', 'balancekv-random').toFixed(3)} |`);
  }
}

// One halving of the middle [4, t + 1 − W) in blocks of B rows, kept rows reweighted by count/kept.
function halving(): void {
  const B = numbers('B', '128')[0]!;
  const F = numbers('F', '8')[0]!;
  const seeds = numbers('SEEDS', '4')[0]!;
  const errWalk: number[] = [];
  const errFair: number[] = [];
  const ratios: number[] = [];
  const mass: number[] = [];
  const neff: number[] = [];
  for (const tr of loadTraces()) {
    const { n, d } = tr;
    const tau = 1 / Math.sqrt(d);
    const walk = new BalancedHalving({ tau });
    const fair = new RandomHalving();
    for (const t of [n / 2, (5 * n) / 8, (3 * n) / 4, n - 1].map(Math.floor)) {
      const q = tr.q.subarray(t * d, (t + 1) * d);
      const lo = 4;
      const hi = t + 1 - Math.max(1, Math.round((0.5 * (t + 1)) / F));
      const w = new Float64Array(t + 1);
      let top = -Infinity;
      for (let i = 0; i <= t; i++) {
        let s = 0;
        for (let x = 0; x < d; x++) s += q[x]! * tr.k[i * d + x]!;
        w[i] = s * tau;
        top = Math.max(top, s * tau);
      }
      for (let i = 0; i <= t; i++) w[i] = Math.exp(w[i]! - top);
      const exact = new Float64Array(d);
      let z = 0;
      let zMid = 0;
      let zMid2 = 0;
      for (let i = 0; i <= t; i++) {
        z += w[i]!;
        for (let x = 0; x < d; x++) exact[x] = exact[x]! + w[i]! * tr.v[i * d + x]!;
        if (i >= lo && i < hi) {
          zMid += w[i]!;
          zMid2 += w[i]! ** 2;
        }
      }
      mass.push(zMid / z);
      neff.push((zMid * zMid) / zMid2);
      let exactNorm = 0;
      for (let x = 0; x < d; x++) exactNorm += (exact[x]! / z) ** 2;
      const answerError = (halver: Halver, seed: number): number => {
        const rng = new Rng(seed);
        const num = new Float64Array(d);
        let den = 0;
        const add = (i: number, scale: number): void => {
          den += scale * w[i]!;
          for (let x = 0; x < d; x++) num[x] = num[x]! + scale * w[i]! * tr.v[i * d + x]!;
        };
        for (let i = 0; i <= t; i++) if (i < lo || i >= hi) add(i, 1);
        const keep = new Int32Array(B);
        for (let b0 = lo; b0 + 1 < hi; b0 += B) {
          const b1 = Math.min(hi, b0 + B);
          const batch = new RowBatch(d, d, b1 - b0);
          for (let i = b0; i < b1; i++) batch.push(tr.k.subarray(i * d, (i + 1) * d), 0, tr.v.subarray(i * d, (i + 1) * d), 0, i, 0);
          const kept = halver.select(batch, rng, keep);
          for (let j = 0; j < kept; j++) add(b0 + keep[j]!, (b1 - b0) / kept);
        }
        let e = 0;
        for (let x = 0; x < d; x++) e += (num[x]! / den - exact[x]! / z) ** 2;
        return Math.sqrt(e / exactNorm);
      };
      let a = 0;
      let b = 0;
      for (let s = 0; s < seeds; s++) {
        a += answerError(walk, 1000 + s) / seeds;
        b += answerError(fair, 1000 + s) / seeds;
      }
      errWalk.push(a);
      errFair.push(b);
      ratios.push(a / Math.max(b, 1e-12));
    }
  }
  const sorted = [...neff].sort((x, y) => x - y);
  console.log(
    `1/${F}, blocks of ${B}, ${seeds} seeds, ${ratios.length} query times: error after one halving walk ${median(errWalk).toFixed(4)}, fair ${median(errFair).toFixed(4)}; ` +
      `median walk/fair ${median(ratios).toFixed(3)}, walk better at ${ratios.filter((x) => x < 1).length}/${ratios.length}; ` +
      `middle share of Z ${median(mass).toFixed(3)}, n_eff ${median(neff).toFixed(1)} (25th percentile ${sorted[sorted.length >> 2]!.toFixed(1)})`,
  );
}

const mode = process.argv[2];
if (mode === 'paired') paired();
else if (mode === 'halving') halving();
else {
  console.error('usage: trace-study.ts paired|halving');
  process.exit(1);
}
