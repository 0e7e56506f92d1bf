// Exact single-head decode: each step appends one token and answers one query over everything
// stored, as in autoregressive generation. For n in {1K, 8K, 32K} and d = s in {64, 128}, on both
// kernel backends, it prints microseconds per step and the effective bandwidth: bytes of K and V
// the query reads (stored·(d + s)·4) divided by the step time.
//
//   node --conditions=@kv/source --import tsx packages/core/bench/exact.bench.ts
//   (or `pnpm bench exact` from the repository root)
//
// Each figure is the median over trials of a fresh cache prefilled to n − R tokens, then R timed
// steps bringing it to n (the first trial only warms up). Wall-clock figures are the ones that
// count; on a shared machine (load average printed above the table) the process also waits for a
// core, so the bandwidth over the process's CPU time is printed as well: it shows what the kernels
// do while running, and is what an unloaded machine's wall clock approaches.
import { availableParallelism, loadavg } from 'node:os';
import { ExactCache, getKernelBackend, type KernelBackend, Rng, setKernelBackend } from '../src/index.js';

const SIZES = [1024, 8192, 32768];
const DIMS = [64, 128];
const TRIALS = 7;
const POOL = 64;

function gaussians(rng: Rng, length: number): Float32Array {
  const x = new Float32Array(length);
  for (let i = 0; i < length; i++) x[i] = rng.gaussian();
  return x;
}

interface Figure {
  backend: KernelBackend;
  n: number;
  d: number;
  microsPerStep: number;
  gbps: number;
  bestGbps: number;
  cpuGbps: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function measure(backend: KernelBackend, n: number, d: number, prefix: { keys: Float32Array; values: Float32Array }, pool: Float32Array[]): Figure {
  setKernelBackend(backend);
  const s = d;
  const bytesPerQuery = n * (d + s) * 4;
  // About 60 ms of work per trial at 5 GB/s, at least 8 steps, and at most n/16 steps so the
  // cache grows little while timed.
  const steps = Math.max(8, Math.min(Math.floor(n / 16), Math.round(3e8 / bytesPerQuery)));
  const start = n - steps;
  const out = new Float32Array(s);
  const micros: number[] = [];
  const rates: number[] = [];
  const cpuRates: number[] = [];
  for (let trial = 0; trial <= TRIALS; trial++) {
    const cache = new ExactCache({ policy: 'exact', keyDim: d, valueDim: s });
    cache.prefill(prefix.keys.subarray(0, start * d), prefix.values.subarray(0, start * s));
    let bytes = 0;
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    for (let t = 0; t < steps; t++) {
      const v = pool[t % POOL]!;
      cache.append(v.subarray(0, d), v.subarray(d, d + s));
      cache.attend(pool[(t + 7) % POOL]!.subarray(0, d), out);
      bytes += cache.stored * (d + s) * 4;
    }
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(c0);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    if (!Number.isFinite(out[0]!)) throw new Error('non-finite output');
    if (trial === 0) continue;
    micros.push((ms * 1000) / steps);
    rates.push(bytes / (ms * 1e6));
    cpuRates.push(bytes / (cpuMs * 1e6));
  }
  return { backend, n, d, microsPerStep: median(micros), gbps: median(rates), bestGbps: Math.max(...rates), cpuGbps: median(cpuRates) };
}

const loadBefore = loadavg()[0]!;
const figures: Figure[] = [];
const rng = new Rng(2026);
for (const d of DIMS) {
  const maxN = Math.max(...SIZES);
  const prefix = { keys: gaussians(rng, maxN * d), values: gaussians(rng, maxN * d) };
  const pool = Array.from({ length: POOL }, () => gaussians(rng, 2 * d));
  for (const n of SIZES) {
    for (const backend of ['wasm', 'js'] as const) figures.push(measure(backend, n, d, prefix, pool));
  }
}
setKernelBackend('auto');

console.log(
  `Exact decode (append + attend), one head, s = d, Node ${process.version}, default backend: ${getKernelBackend()}, ` +
    `load average ${loadBefore.toFixed(1)} → ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} cores\n`,
);
console.log('| backend | n | d | µs / step | GB/s (median) | GB/s (best) | GB/s (CPU time) | wasm speed-up |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const f of figures) {
  const js = figures.find((g) => g.backend === 'js' && g.n === f.n && g.d === f.d)!;
  const speedup = f.backend === 'wasm' ? `${(js.microsPerStep / f.microsPerStep).toFixed(2)}×` : '';
  console.log(
    `| ${f.backend} | ${f.n} | ${f.d} | ${f.microsPerStep.toFixed(1)} | ${f.gbps.toFixed(2)} | ${f.bestGbps.toFixed(2)} | ${f.cpuGbps.toFixed(2)} | ${speedup} |`,
  );
}
const target = figures.find((f) => f.backend === 'wasm' && f.n === 32768 && f.d === 128)!;
console.log(
  `\nTarget ≥ 8 GB/s at n = 32K, d = 128: wasm ${target.gbps.toFixed(2)} GB/s median wall clock, ` +
    `${target.bestGbps.toFixed(2)} best, ${target.cpuGbps.toFixed(2)} over CPU time.`,
);
