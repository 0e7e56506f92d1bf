// Attention at memory bandwidth (issue 19, core part), one run, as ratios:
//   - float32 attend (the default 'wasm' backend) at n = 4K/32K, d = 64/128, one thread, beside
//     numpy + OpenBLAS on one thread (rows skipped with a message when numpy is missing) and the
//     bit-identical 'wasm-f64' backend;
//   - int4 codes vs float32 over the same tokens: token-wise groups (the precision layer's default)
//     and KIVI's layout (keys per channel over groups of 32 tokens, a float32 window of 32);
//   - sums vs sumsWithProbs (the query-aware policies' path) and mixed precisions at n = 32K, d = 128;
//   - a 32-head layer at n = 8K with ModelCache threads: 2 vs one thread, beside the GB/s one and
//     two threads stream from DRAM (the ceiling of a threaded attend, ./memory-ceiling.ts).
//
//   node --conditions=@kv/source --import tsx packages/core/bench/attend.bench.ts
//   (or `pnpm bench attend`)
//
// Every figure is the median over rounds of the median µs per query within a round; kv and numpy
// rounds alternate so both see the same load. GB/s = bytes the query reads (the rows held) / time.
// The load average is printed before and after: on a shared machine, compare ratios of one run.
import { spawnSync } from 'node:child_process';
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { memoryCeiling } from './memory-ceiling.js';
import {
  createKernelSums,
  ExactCache,
  kernelFeatures,
  type KernelBackend,
  ModelCache,
  type Precision,
  Rng,
  setKernelBackend,
  SlotStore,
} from '../src/index.js';

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** One measured configuration: µs per query, one median per round. */
export interface AttendFigure {
  readonly label: string;
  readonly n: number;
  readonly d: number;
  /** Bytes one query reads (the rows held). */
  readonly bytes: number;
  /** Median µs per query in each round. */
  readonly micros: number[];
}

/** GB/s of a figure (median over rounds). */
export const gbps = (f: AttendFigure): number => f.bytes / (median(f.micros) * 1e3);

/**
 * A store of n random rows at a precision, and queries for it.
 * @param n - Rows.
 * @param d - Key and value dimension.
 * @param precision - Storage precision (default float32).
 * @returns The store and 64 queries.
 */
export function attendStore(n: number, d: number, precision?: Precision): { store: SlotStore; queries: Float32Array[] } {
  const rng = new Rng(2026);
  const channel = typeof precision === 'object' && precision.keyGroups === 'channel';
  const store = new SlotStore(d, d, { precision, positions: false, ...(channel ? { eviction: 'fifo' as const } : {}) });
  const k = new Float32Array(d);
  const v = new Float32Array(d);
  for (let t = 0; t < n; t++) {
    rng.fillGaussian(k, 1);
    rng.fillGaussian(v, 1);
    store.push(k, 0, v, 0, t, 0);
  }
  const queries = Array.from({ length: 64 }, () => rng.fillGaussian(new Float32Array(d), 1));
  return { store, queries };
}

/**
 * Times one round of queries on a store.
 * @param store - The store.
 * @param queries - Queries (cycled).
 * @param reps - Queries in the round.
 * @returns The median µs per query.
 */
export function attendRound(store: SlotStore, queries: readonly Float32Array[], reps: number): number {
  const out = createKernelSums(store.s);
  const tau = 1 / Math.sqrt(store.d);
  const t: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    store.sums(queries[i % queries.length]!, tau, out);
    t.push((performance.now() - t0) * 1000);
  }
  if (!Number.isFinite(out.z)) throw new Error('non-finite sums');
  return median(t);
}

const NUMPY = String.raw`
import sys, time
import numpy as np
n, d, reps, rounds = map(int, sys.argv[1:5])
rng = np.random.default_rng(2026)
K = rng.standard_normal((n, d), dtype=np.float32)
V = rng.standard_normal((n, d), dtype=np.float32)
Q = rng.standard_normal((64, d), dtype=np.float32)
scale = np.float32(1 / np.sqrt(d))
def attend(q):
    s = K @ q
    s *= scale
    e = np.exp(s - s.max())
    return (e @ V) / e.sum()
for i in range(8): attend(Q[i])
for r in range(rounds):
    t = []
    for i in range(reps):
        t0 = time.perf_counter()
        attend(Q[i % 64])
        t.append(time.perf_counter() - t0)
    t.sort()
    print(t[len(t) // 2] * 1e6)
`;

/**
 * numpy + OpenBLAS on one thread, the same attention on the same shapes.
 * @param n - Rows.
 * @param d - Dimension.
 * @param reps - Queries per round.
 * @param rounds - Rounds.
 * @returns Median µs per query of each round, or null when `python3 -c "import numpy"` fails.
 */
export function numpyRounds(n: number, d: number, reps: number, rounds: number): number[] | null {
  const env: NodeJS.ProcessEnv = { ...process.env, OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1', MKL_NUM_THREADS: '1' };
  const r = spawnSync('python3', ['-c', NUMPY, String(n), String(d), String(reps), String(rounds)], { encoding: 'utf8', env });
  if (r.status !== 0) return null;
  return r.stdout.trim().split('\n').map(Number);
}

function withBackend<T>(backend: KernelBackend, fn: () => T): T {
  setKernelBackend(backend);
  try {
    return fn();
  } finally {
    setKernelBackend('auto');
  }
}

/** KIVI's layout at 4 bits (`kivi` with `bits: 4` in @kv/heuristics). */
const KIVI_INT4: Precision = { keys: 'int4', values: 'int4', keyGroups: 'channel', group: 32, residual: 32 };

/**
 * Float32 (default and bit-identical backends), int4 (token-wise groups and KIVI's layout) and
 * numpy at one shape, rounds interleaved.
 * @param n - Rows.
 * @param d - Dimension (s = d).
 * @param rounds - Rounds.
 * @param withNumpy - Also time numpy.
 * @returns The figures (numpy absent when it is missing or not asked for).
 */
export function compareShape(n: number, d: number, rounds: number, withNumpy: boolean): AttendFigure[] {
  const f32 = attendStore(n, d);
  const int4 = attendStore(n, d, 'int4');
  const kivi = attendStore(n, d, KIVI_INT4);
  const bytes32 = f32.store.heldBytes;
  // About 50 ms of float32 work per round at 20 GB/s, at least 16 queries.
  const reps = Math.max(16, Math.round(1e9 / bytes32));
  const figs: AttendFigure[] = [
    { label: 'kv f32 (wasm)', n, d, bytes: bytes32, micros: [] },
    { label: 'kv f32 (wasm-f64)', n, d, bytes: bytes32, micros: [] },
    { label: 'kv int4 (wasm)', n, d, bytes: int4.store.heldBytes, micros: [] },
    { label: 'kv KIVI int4 (wasm)', n, d, bytes: kivi.store.heldBytes, micros: [] },
  ];
  const numpy: AttendFigure = { label: 'numpy (1 thread)', n, d, bytes: bytes32, micros: [] };
  attendRound(f32.store, f32.queries, reps);
  attendRound(int4.store, int4.queries, reps);
  attendRound(kivi.store, kivi.queries, reps);
  for (let r = 0; r < rounds; r++) {
    figs[0]!.micros.push(attendRound(f32.store, f32.queries, reps));
    figs[1]!.micros.push(withBackend('wasm-f64', () => attendRound(f32.store, f32.queries, reps)));
    figs[2]!.micros.push(attendRound(int4.store, int4.queries, reps));
    figs[3]!.micros.push(attendRound(kivi.store, kivi.queries, reps));
    if (withNumpy) {
      const np = numpyRounds(n, d, reps, 1);
      if (np !== null) numpy.micros.push(np[0]!);
    }
  }
  return numpy.micros.length > 0 ? [...figs, numpy] : figs;
}

/**
 * A layer of `heads` exact heads (d = 128, GQA 1:1) at n tokens: µs per layer attend with
 * `threads` threads, one median per round.
 * @param n - Tokens per head.
 * @param heads - KV heads (= query heads).
 * @param d - Head dimension.
 * @param threads - Threads.
 * @param rounds - Rounds.
 * @returns Median µs per layer attend of each round.
 */
export function threadedLayer(n: number, heads: number, d: number, threads: number, rounds: number): number[] {
  const cache = new ModelCache({ layers: 1, kvHeads: heads, keyDim: d, valueDim: d, caches: () => new ExactCache({ policy: 'exact', keyDim: d, valueDim: d }), threads });
  const rng = new Rng(7);
  const row = new Float32Array(heads * d);
  for (let t = 0; t < n; t++) {
    rng.fillGaussian(row, 1);
    cache.append(0, row, row);
  }
  const q = rng.fillGaussian(new Float32Array(heads * d), 1);
  const out = new Float32Array(heads * d);
  for (let i = 0; i < 4; i++) cache.attend(0, q, out);
  const res: number[] = [];
  const reps = 16;
  for (let r = 0; r < rounds; r++) {
    const t: number[] = [];
    for (let i = 0; i < reps; i++) {
      const a = performance.now();
      cache.attend(0, q, out);
      t.push((performance.now() - a) * 1000);
    }
    res.push(median(t));
  }
  cache.close();
  return res;
}

const fmt = (x: number, digits = 1) => x.toFixed(digits);

/**
 * Runs every figure and returns the report (markdown).
 * @param options - Rounds (default 7) and whether to time numpy (default: when present).
 * @returns The report.
 */
export async function attendReport(options: { rounds?: number; numpy?: boolean } = {}): Promise<string> {
  const rounds = options.rounds ?? 7;
  const hasNumpy = numpyRounds(64, 8, 1, 1) !== null;
  const withNumpy = (options.numpy ?? true) && hasNumpy;
  const lines: string[] = [];
  const load0 = loadavg()[0]!;
  const f = kernelFeatures();
  lines.push(`Node ${process.version}, ${availableParallelism()} cores, SIMD ${f.simd ? 'yes' : 'no'}, relaxed SIMD (FMA) ${f.relaxedSimd ? 'yes' : 'no'}, load average ${fmt(load0)} at start`);
  if (!hasNumpy) lines.push('numpy rows skipped: `python3 -c "import numpy"` fails here (apt-get install python3-numpy for them).');
  lines.push('', '| n | d | kv f32 GB/s | kv f32 / numpy | wasm-f64 GB/s | numpy GB/s | int4 µs / f32 µs | int4 GB/s (codes read) | KIVI int4 µs / f32 µs |', '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const d of [64, 128]) {
    for (const n of [4096, 32768]) {
      const figs = compareShape(n, d, rounds, withNumpy);
      const [w32, w64, i4, kv4, np] = figs;
      const np32 = np ? `${fmt(median(np.micros) / median(w32!.micros), 2)}×` : '—';
      lines.push(
        `| ${n} | ${d} | ${fmt(gbps(w32!))} | ${np32} | ${fmt(gbps(w64!))} | ${np ? fmt(gbps(np)) : '—'} | ${fmt(median(i4!.micros) / median(w32!.micros), 2)} | ${fmt(gbps(i4!))} | ${fmt(median(kv4!.micros) / median(w32!.micros), 2)} |`,
      );
    }
  }
  const probe = attendStore(32768, 128);
  const probs = new Float64Array(32768);
  const out = createKernelSums(128);
  const keysInt4 = attendStore(32768, 128, { keys: 'int4', values: 'f32' });
  const valuesInt4 = attendStore(32768, 128, { keys: 'f32', values: 'int4' });
  const plain: number[] = [];
  const withProbs: number[] = [];
  const mixed: [number[], number[]] = [[], []];
  for (let r = 0; r < rounds; r++) {
    plain.push(attendRound(probe.store, probe.queries, 20));
    mixed[0].push(attendRound(keysInt4.store, keysInt4.queries, 20));
    mixed[1].push(attendRound(valuesInt4.store, valuesInt4.queries, 20));
    const t: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t0 = performance.now();
      probe.store.sumsWithProbs(probe.queries[i]!, 1 / Math.sqrt(128), out, probs);
      t.push((performance.now() - t0) * 1000);
    }
    withProbs.push(median(t));
  }
  lines.push('', '| n = 32768, d = 128, float32 | µs per query |', '| --- | ---: |');
  lines.push(`| sums | ${fmt(median(plain), 0)} |`, `| sumsWithProbs (each slot's probability: H2O, TOVA, SnapKV) | ${fmt(median(withProbs), 0)} |`);
  lines.push(`| sums, int4 keys and float32 values | ${fmt(median(mixed[0]), 0)} |`, `| sums, float32 keys and int4 values | ${fmt(median(mixed[1]), 0)} |`);
  const one = threadedLayer(8192, 32, 128, 1, rounds);
  const two = threadedLayer(8192, 32, 128, 2, rounds);
  lines.push('', '| 32-head layer, n = 8192, d = 128 | µs per layer attend (median of rounds) | rounds (µs) |', '| --- | ---: | --- |');
  lines.push(`| 1 thread | ${fmt(median(one), 0)} | ${one.map((x) => fmt(x, 0)).join(', ')} |`);
  lines.push(`| threads: 2 | ${fmt(median(two), 0)} | ${two.map((x) => fmt(x, 0)).join(', ')} |`);
  lines.push(`| speed-up | ${fmt(median(one) / median(two), 2)}× | |`);
  const layerBytes = 32 * 8192 * 2 * 128 * 4;
  const ceiling = await memoryCeiling();
  lines.push(
    '',
    `Layer read at ${fmt(layerBytes / median(one) / 1e3)} GB/s on one thread, ${fmt(layerBytes / median(two) / 1e3)} GB/s on two; plain DRAM streams here: ${fmt(ceiling.one)} GB/s on one thread, ${fmt(ceiling.two)} GB/s on two at once (${fmt(ceiling.scaling, 2)}×), so two threads can gain at most ${fmt((ceiling.two * median(one)) / layerBytes * 1e3, 2)}× over this one-thread attend.`,
  );
  lines.push('', `load average ${fmt(load0)} → ${fmt(loadavg()[0]!)}`);
  return lines.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  console.log(await attendReport());
}
