// kv's exact attention vs numpy (OpenBLAS, one thread) on the same shapes: one head, one query
// over n stored keys and values of width d, float32.
import { spawnSync } from 'node:child_process';
import { ExactCache, getKernelBackend, Rng } from '@kv/core';
import { median } from './stats.js';

/** One shape's figures, microseconds per query. */
export interface AttendFigure {
  readonly n: number;
  readonly d: number;
  /** kv's µs per attend, one value per round. */
  readonly kv: number[];
  /** numpy's µs per attend, one value per round (empty when numpy is missing). */
  readonly numpy: number[];
}

// Reads n, d, reps, rounds; prints one line per round: the median µs per attend over `reps`.
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

/** Whether `python3 -c "import numpy"` works. */
export function numpyVersion(): string | undefined {
  const r = spawnSync('python3', ['-c', 'import numpy; print(numpy.__version__)'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

function numpyRounds(n: number, d: number, reps: number, rounds: number): number[] {
  // One thread, and OpenBLAS left to pick its kernel for this CPU (see the environment notes:
  // the two CORETYPE variables slow a current numpy down).
  const env: NodeJS.ProcessEnv = { ...process.env, OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1', MKL_NUM_THREADS: '1' };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  const r = spawnSync('python3', ['-c', NUMPY, String(n), String(d), String(reps), String(rounds)], { encoding: 'utf8', env });
  if (r.status !== 0) throw new Error(`numpy failed: ${r.stderr}`);
  return r.stdout.trim().split('\n').map(Number);
}

function kvRound(cache: ExactCache, pool: Float32Array[], reps: number, out: Float32Array): number {
  const t: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    cache.attend(pool[i % pool.length]!, out);
    t.push((performance.now() - t0) * 1000);
  }
  return median(t);
}

/**
 * Measures kv and numpy in alternating rounds (a kv round, then a numpy process), so both see the
 * same load and never run at the same time.
 */
export function compareAttend(sizes: readonly number[], dims: readonly number[], rounds: number, withNumpy: boolean): AttendFigure[] {
  const out: AttendFigure[] = [];
  const rng = new Rng(2026);
  for (const d of dims) {
    for (const n of sizes) {
      const cache = new ExactCache({ policy: 'exact', keyDim: d, valueDim: d });
      const keys = rng.fillGaussian(new Float32Array(n * d), 1);
      const values = rng.fillGaussian(new Float32Array(n * d), 1);
      cache.prefill(keys, values);
      const pool = Array.from({ length: 64 }, () => rng.fillGaussian(new Float32Array(d), 1));
      const result = new Float32Array(d);
      // About 0.2 s of work per round at 10 GB/s.
      const reps = Math.max(20, Math.round(2e9 / (n * 2 * d * 4) / 5));
      kvRound(cache, pool, 8, result);
      const kv: number[] = [];
      const numpy: number[] = [];
      for (let r = 0; r < rounds; r++) {
        kv.push(kvRound(cache, pool, reps, result));
        if (withNumpy) numpy.push(...numpyRounds(n, d, reps, 1));
      }
      out.push({ n, d, kv, numpy });
    }
  }
  return out;
}

/** The backend kv's attend ran on. */
export function attendBackend(): string {
  return getKernelBackend();
}
