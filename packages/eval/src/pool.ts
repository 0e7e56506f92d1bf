import { availableParallelism } from 'node:os';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { PolicyRegistry } from '@kv/core';
import { loadRegistry, PreparedCache } from './job-context.js';
import { runJob, type RunJob, type RunResult } from './runner.js';

/**
 * How to run a grid of jobs.
 *
 * @example
 * ```ts
 * import type { RunJobsOptions } from '@kv/eval';
 * const o: RunJobsOptions = { workers: 'auto', onProgress: (done, total) => {} };
 * ```
 */
export interface RunJobsOptions {
  /** Worker threads: a count, or `auto` (one per available core; in-process when only one). */
  readonly workers?: number | 'auto';
  /** A registry to use in-process (forces one thread, since a registry cannot cross threads). */
  readonly registry?: PolicyRegistry;
  /** Module exporting `createRegistry()`, loaded in every worker (default: the built-in registry). */
  readonly registryModule?: string;
  /** Called after each finished job. */
  readonly onProgress?: (done: number, total: number) => void;
}

/**
 * The worker count `auto` means: one per available core, capped by the job count.
 * @param jobs - Number of jobs.
 * @returns The count (1 means in-process).
 * @example
 * ```ts
 * import { autoWorkers } from '@kv/eval';
 * autoWorkers(10);
 * ```
 */
export function autoWorkers(jobs: number): number {
  return Math.max(1, Math.min(availableParallelism(), jobs));
}

// From TypeScript sources (tests, `pnpm demo`) the worker registers tsx's loader before importing
// the .ts entry and inherits the @kv/source condition; from the built package it runs dist/worker.js.
function spawnWorker(registryModule: string | undefined): Worker {
  const here = import.meta.url;
  const data = { workerData: registryModule === undefined ? {} : { registryModule } };
  if (here.endsWith('.ts')) {
    const require = createRequire(here);
    const api = pathToFileURL(require.resolve('tsx/esm/api').replace(/index\.cjs$/, 'index.mjs')).href;
    const entry = new URL('./worker.ts', here).href;
    const code = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
    return new Worker(code, { eval: true, execArgv: ['--conditions=@kv/source'], ...data });
  }
  const entry = new URL(here.endsWith('.cjs') ? './worker.cjs' : './worker.js', here);
  return new Worker(entry, data);
}

/**
 * Runs jobs, in worker threads when more than one is asked for (or `auto` finds several cores),
 * and returns the results in job order. Results depend only on the jobs (seeds), not on the
 * number of threads, except for the timing fields.
 *
 * @param jobs - The grid.
 * @param options - Threads, registry, progress.
 * @returns One result per job, in `jobs` order (a policy that fails is a failed result, not an error).
 * @throws {@link ConfigError} when the registry module cannot be loaded or a model workload cannot be
 *   read; {@link TraceFormatError} for a bad trace; `InvalidParamsError` (from `@kv/core`) for a bad
 *   synthetic workload; `DimensionMismatchError` or `NonFiniteInputError` (from `@kv/core`) for a
 *   model file that loads but whose keys or values the cache refuses (NaN or Infinity from corrupt
 *   weights).
 * @example
 * ```ts
 * import { runJobs } from '@kv/eval';
 * const results = await runJobs([], { workers: 1 });
 * ```
 */
export async function runJobs(jobs: readonly RunJob[], options: RunJobsOptions = {}): Promise<RunResult[]> {
  const total = jobs.length;
  const requested = options.workers ?? 'auto';
  const workers = options.registry ? 1 : Math.min(total, requested === 'auto' ? autoWorkers(total) : Math.max(1, Math.floor(requested)));
  const results: RunResult[] = new Array(total);
  let done = 0;
  if (workers <= 1) {
    const registry = options.registry ?? (await loadRegistry(options.registryModule));
    const prepared = new PreparedCache();
    for (let i = 0; i < total; i++) {
      results[i] = runJob(registry, jobs[i]!, prepared.get(jobs[i]!));
      options.onProgress?.(++done, total);
    }
    return results;
  }
  // Jobs are handed out one at a time in grid order (workload-major), so consecutive jobs of a
  // worker mostly share a workload and its PreparedCache reuses the exact reference pass.
  const position = new Map(jobs.map((j, i) => [j.index, i]));
  let next = 0;
  const pool = Array.from({ length: workers }, () => spawnWorker(options.registryModule));
  try {
    await Promise.all(
      pool.map(
        (worker) =>
          new Promise<void>((resolvePromise, reject) => {
            const send = (): void => {
              if (next >= total) {
                resolvePromise();
                return;
              }
              const job = jobs[next++]!;
              worker.postMessage({ job });
            };
            worker.on('message', (msg: { result?: RunResult; fatal?: string }) => {
              if (msg.fatal !== undefined) {
                reject(new Error(`worker failed: ${msg.fatal}`));
                return;
              }
              const r = msg.result!;
              results[position.get(r.index)!] = r;
              options.onProgress?.(++done, total);
              send();
            });
            worker.on('error', reject);
            worker.on('exit', (code) => {
              if (code !== 0 && next < total) reject(new Error(`worker exited with code ${code}`));
            });
            send();
          }),
      ),
    );
  } finally {
    await Promise.all(pool.map((w) => w.terminate()));
  }
  return results;
}
