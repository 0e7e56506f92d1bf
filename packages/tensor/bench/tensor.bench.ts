// Time/memory trade-off of the tensor caches (issue 10): for n in {128, …, 2048}, d = s = 16,
// the bytes each cache holds after n tokens and the wall time of one step (append token n, then
// answer a query over all n² pairs). Exact layouts cost O(n²(d+s)) per query, so instead of timing
// the whole stream we time the last K steps ending at each n (K = 8 up to n = 512, then 4) and
// report the minimum (least disturbed by other processes on a shared machine) and the median; the
// tokens in between are appended without queries.
// Writes bench/out/tradeoff.svg beside this script.
//
//   node --conditions=@kv/source --import tsx packages/tensor/bench/tensor.bench.ts
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createKernelSums, Rng, type PolicySpec } from '@kv/core';
import {
  createTensorCache,
  fourCacheBytes,
  type TaylorCache,
  taylorCacheBytes,
  type TensorHeadCache,
  twoCacheBytes,
} from '../src/index.js';

const D = 16;
const S = 16;
const SIZES = [128, 256, 512, 1024, 2048];
const MAX = SIZES[SIZES.length - 1]!;
const TAYLOR_DEGREE = 4;

interface Layout {
  label: string;
  spec: PolicySpec;
  formula: (n: number) => number;
  formulaText: string;
}

const layouts: Layout[] = [
  {
    label: 'four-cache (factorized)',
    spec: { policy: 'tensor-four-cache', keyDim: D, valueDim: S },
    formula: (n) => fourCacheBytes(n, D, S).live,
    formulaText: '8(d+s)n',
  },
  {
    label: 'four-cache (materialized)',
    spec: { policy: 'tensor-four-cache', keyDim: D, valueDim: S, params: { pairs: 'materialized' } },
    formula: (n) => fourCacheBytes(n, D, S).live,
    formulaText: '8(d+s)n',
  },
  {
    label: 'two-cache',
    spec: { policy: 'tensor-two-cache', keyDim: D, valueDim: S },
    formula: (n) => twoCacheBytes(n, D, S).live,
    formulaText: '4(d+s)(n²+2n)',
  },
  {
    label: `taylor (g = ${TAYLOR_DEGREE})`,
    spec: { policy: 'tensor-taylor', keyDim: D, valueDim: S, params: { degree: TAYLOR_DEGREE } },
    formula: () => taylorCacheBytes(D, S, TAYLOR_DEGREE).live,
    formulaText: '8(F(2+2s)+2s+4)',
  },
];

// One stream for every layout; keys and queries of norm ≈ 1.5, so the Taylor cache's certified
// bound stays below 1 (it is reported below) while pair logits are not negligible.
const NORM = 1.5;
const rng = new Rng(2026);
const scale = NORM / Math.sqrt(D);
const keys1 = rng.fillGaussian(new Float32Array(MAX * D), scale);
const keys2 = rng.fillGaussian(new Float32Array(MAX * D), scale);
const values1 = rng.fillGaussian(new Float32Array(MAX * S));
const values2 = rng.fillGaussian(new Float32Array(MAX * S));
const queries = rng.fillGaussian(new Float32Array(MAX * D), scale);
const rowOf = (a: Float32Array, t: number, w: number) => a.subarray(t * w, (t + 1) * w);
const appendToken = (c: TensorHeadCache, t: number) =>
  c.append(rowOf(keys1, t, D), rowOf(keys2, t, D), rowOf(values1, t, S), rowOf(values2, t, S));

const sampleSteps = (n: number) => (n <= 512 ? 8 : 4);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const min = (xs: number[]) => Math.min(...xs);

interface Point {
  n: number;
  bytes: number;
  formula: number;
  stepMs: number;
  stepMedianMs: number;
  appendMs: number;
  attendMs: number;
}

// Float64 outputs N/Z of the last query at each n, per layout (first: the factorized four-cache).
const outputs = new Map<number, Float64Array[]>();
const results = new Map<string, Point[]>();
const taylorInfo: { n: number; maxErr: number; relErr: number; bound: number; rho: number }[] = [];
const sums = createKernelSums(S);
const relDiff = (a: Float64Array, b: Float64Array) => {
  let num = 0;
  let den = 0;
  for (let c = 0; c < S; c++) {
    num += (a[c]! - b[c]!) ** 2;
    den += b[c]! ** 2;
  }
  return Math.sqrt(num / den);
};
const started = performance.now();

for (const layout of layouts) {
  // Warm the JIT on a short stream, so the first size is not charged for compilation.
  const warm = createTensorCache(layout.spec);
  for (let t = 0; t < 96; t++) {
    appendToken(warm, t);
    warm.attend(rowOf(queries, t, D), new Float32Array(S));
  }
  warm.reset();

  const cache = createTensorCache(layout.spec);
  const points: Point[] = [];
  const out = new Float32Array(S);
  let t = 0;
  for (const n of SIZES) {
    const k = sampleSteps(n);
    while (t < n - k) appendToken(cache, t++);
    const steps: number[] = [];
    const appends: number[] = [];
    const attends: number[] = [];
    for (; t < n; t++) {
      const t0 = performance.now();
      appendToken(cache, t);
      const t1 = performance.now();
      cache.attend(rowOf(queries, t, D), out);
      const t2 = performance.now();
      appends.push(t1 - t0);
      attends.push(t2 - t1);
      steps.push(t2 - t0);
    }
    points.push({
      n,
      bytes: cache.bytes,
      formula: layout.formula(n),
      stepMs: min(steps),
      stepMedianMs: median(steps),
      appendMs: min(appends),
      attendMs: min(attends),
    });
    // Compare every layout's last answer at n with the factorized four-cache (exact), in Float64.
    const q = rowOf(queries, n - 1, D);
    cache.sums(q, sums);
    const answer = Float64Array.from(sums.n, (x) => x / sums.z);
    const list = outputs.get(n) ?? [];
    list.push(answer);
    outputs.set(n, list);
    if (layout.spec.policy === 'tensor-taylor') {
      const bound = (cache as TaylorCache).outputErrorBound(q, new Float64Array(S));
      const exact = list[0]!;
      let maxErr = 0;
      for (let c = 0; c < S; c++) maxErr = Math.max(maxErr, Math.abs(answer[c]! - exact[c]!));
      taylorInfo.push({ n, maxErr, relErr: relDiff(answer, exact), bound: Math.max(...bound), rho: (cache as TaylorCache).logitBound(q) });
    }
  }
  results.set(layout.label, points);
}
const elapsed = (performance.now() - started) / 1000;

const mib = (b: number) => (b / 2 ** 20).toFixed(b < 2 ** 20 ? 3 : 1);
console.log(`Tensor attention caches, d = ${D}, s = ${S}, key/query norm ≈ ${NORM}; time per step over the last K steps ending at n (K = 8 for n ≤ 512, else 4): min (median), and the min of its append and query parts.\n`);
console.log('| cache | n | bytes held | formula (live) | MiB | step ms, min (median) | append ms | query ms | query ns / pair |');
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const layout of layouts) {
  for (const p of results.get(layout.label)!) {
    console.log(
      `| ${layout.label} | ${p.n} | ${p.bytes} | ${layout.formulaText} = ${p.formula} | ${mib(p.bytes)} | ${p.stepMs.toFixed(3)} (${p.stepMedianMs.toFixed(3)}) | ${p.appendMs.toFixed(4)} | ${p.attendMs.toFixed(3)} | ${((p.attendMs * 1e6) / (p.n * p.n)).toFixed(2)} |`,
    );
  }
}
console.log('\nAgreement with the factorized four-cache (relative error ‖out − exact‖/‖exact‖ of the last query at each n, Float64):\n');
console.log('| n | ' + layouts.slice(1).map((l) => l.label).join(' | ') + ' |');
console.log('|---:|' + layouts.slice(1).map(() => '---:').join('|') + '|');
for (const n of SIZES) {
  const list = outputs.get(n)!;
  const diffs = list.slice(1).map((o) => relDiff(o, list[0]!).toExponential(2));
  console.log(`| ${n} | ${diffs.join(' | ')} |`);
}
console.log(`\nTaylor cache (g = ${TAYLOR_DEGREE}): certified ρ(q), its per-coordinate bound 2δ/(1−δ)·V_c (max over c), and the measured error:\n`);
console.log('| n | ρ(q) | bound | measured max abs error | relative error |');
console.log('|---:|---:|---:|---:|---:|');
for (const r of taylorInfo) {
  console.log(`| ${r.n} | ${r.rho.toFixed(3)} | ${r.bound.toExponential(2)} | ${r.maxErr.toExponential(2)} | ${r.relErr.toExponential(2)} |`);
}
console.log(`\nTotal bench time ${elapsed.toFixed(1)} s.`);

// ---- SVG: memory (left) and time per step (right), log-log, one line per cache ----
const colors = ['#1f77b4', '#9467bd', '#d62728', '#2ca02c'];
const W = 1040;
const H = 420;
const panel = { w: 400, h: 300, top: 60, lefts: [110, 620] };
function logTicks(lo: number, hi: number): number[] {
  const ticks: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) ticks.push(10 ** e);
  return ticks;
}
function drawPanel(index: number, title: string, yLabel: string, value: (p: Point) => number, fmt: (v: number) => string): string {
  const left = panel.lefts[index]!;
  const all = [...results.values()].flat().map(value).filter((v) => v > 0);
  const ticks = logTicks(Math.min(...all), Math.max(...all));
  const ylo = Math.log10(ticks[0]!);
  const yhi = Math.log10(ticks[ticks.length - 1]!);
  const xlo = Math.log2(SIZES[0]!);
  const xhi = Math.log2(MAX);
  const X = (n: number) => left + ((Math.log2(n) - xlo) / (xhi - xlo)) * panel.w;
  const Y = (v: number) => panel.top + panel.h - ((Math.log10(v) - ylo) / (yhi - ylo)) * panel.h;
  let g = `<text x="${left + panel.w / 2}" y="${panel.top - 20}" text-anchor="middle" font-size="15" font-weight="bold">${title}</text>\n`;
  g += `<rect x="${left}" y="${panel.top}" width="${panel.w}" height="${panel.h}" fill="none" stroke="#333"/>\n`;
  for (const t of ticks) {
    g += `<line x1="${left}" x2="${left + panel.w}" y1="${Y(t)}" y2="${Y(t)}" stroke="#ddd"/>`;
    g += `<text x="${left - 6}" y="${Y(t) + 4}" text-anchor="end" font-size="11">${fmt(t)}</text>\n`;
  }
  for (const n of SIZES) {
    g += `<line x1="${X(n)}" x2="${X(n)}" y1="${panel.top}" y2="${panel.top + panel.h}" stroke="#eee"/>`;
    g += `<text x="${X(n)}" y="${panel.top + panel.h + 16}" text-anchor="middle" font-size="11">${n}</text>\n`;
  }
  g += `<text x="${left + panel.w / 2}" y="${panel.top + panel.h + 36}" text-anchor="middle" font-size="12">tokens n (log scale)</text>\n`;
  g += `<text transform="translate(${left - 78},${panel.top + panel.h / 2}) rotate(-90)" text-anchor="middle" font-size="12">${yLabel}</text>\n`;
  layouts.forEach((layout, li) => {
    const pts = results.get(layout.label)!.filter((p) => value(p) > 0);
    const path = pts.map((p, i) => `${i ? 'L' : 'M'}${X(p.n).toFixed(1)},${Y(value(p)).toFixed(1)}`).join(' ');
    g += `<path d="${path}" fill="none" stroke="${colors[li]}" stroke-width="2"${li === 1 ? ' stroke-dasharray="6 4"' : ''}/>\n`;
    for (const p of pts) g += `<circle cx="${X(p.n).toFixed(1)}" cy="${Y(value(p)).toFixed(1)}" r="3.5" fill="${colors[li]}"/>`;
    g += '\n';
  });
  return g;
}
const bytesFmt = (v: number) => (v >= 1e9 ? `${v / 1e9} GB` : v >= 1e6 ? `${v / 1e6} MB` : v >= 1e3 ? `${v / 1e3} kB` : `${v} B`);
const msFmt = (v: number) => `${v} ms`;
let svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif">\n`;
svg += `<rect width="${W}" height="${H}" fill="white"/>\n`;
svg += `<text x="${W / 2}" y="20" text-anchor="middle" font-size="16">Tensor attention KV caches: memory vs time per step (d = s = ${D})</text>\n`;
svg += drawPanel(0, 'Memory held after n tokens', 'bytes (log scale)', (p) => p.bytes, bytesFmt);
svg += drawPanel(1, 'Time per step (append + query)', 'ms (log scale, min of sampled steps)', (p) => p.stepMs, msFmt);
layouts.forEach((layout, li) => {
  const x = 110 + li * 230;
  svg += `<line x1="${x}" x2="${x + 24}" y1="${H - 18}" y2="${H - 18}" stroke="${colors[li]}" stroke-width="3"${li === 1 ? ' stroke-dasharray="6 4"' : ''}/>`;
  svg += `<text x="${x + 30}" y="${H - 14}" font-size="12">${layout.label}</text>\n`;
});
svg += '</svg>\n';
const outDir = join(dirname(fileURLToPath(import.meta.url)), 'out');
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, 'tradeoff.svg'), svg);
console.log(`Wrote ${join('packages/tensor/bench/out', 'tradeoff.svg')}.`);
