import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { PolicyRegistry } from '@kv/core';
import { ConfigError } from './errors.js';
import { prepareWorkload, type PreparedWorkload } from './prepare.js';
import type { RunJob } from './runner.js';

/**
 * Keeps the last few prepared workloads (built stream and exact answers), keyed by workload index,
 * seed and query schedule, so the policies run on one workload share a single reference pass.
 *
 * @example
 * ```ts
 * import { PreparedCache } from '@kv/eval';
 * const cache = new PreparedCache(2);
 * ```
 */
export class PreparedCache {
  private readonly entries = new Map<string, PreparedWorkload>();
  private readonly limit: number;

  /** @param limit - How many prepared workloads to keep (default 4). */
  constructor(limit = 4) {
    this.limit = limit;
  }

  /**
   * The prepared workload of a job, built on first use.
   * @param job - The job.
   * @returns Its prepared workload.
   * @throws {@link TraceFormatError} for a bad trace, {@link ConfigError} for a model workload that
   *   cannot be read, `InvalidParamsError` (from `@kv/core`) for a bad synthetic workload;
   *   `DimensionMismatchError` or `NonFiniteInputError` (from `@kv/core`) for a model file that
   *   loads but whose keys or values the cache refuses (NaN or Infinity from corrupt weights).
   */
  get(job: RunJob): PreparedWorkload {
    const key = `${job.workloadIndex}:${job.seed}:${job.queries.from}:${job.queries.every}`;
    let p = this.entries.get(key);
    if (p) {
      this.entries.delete(key);
      this.entries.set(key, p);
      return p;
    }
    p = prepareWorkload(job.workload, job.seed, job.queries);
    this.entries.set(key, p);
    if (this.entries.size > this.limit) this.entries.delete(this.entries.keys().next().value as string);
    return p;
  }
}

/**
 * The registry of a run: {@link createDefaultRegistry}, or the one built by a module exporting
 * `createRegistry()` (a path or URL), which is how worker threads get a custom registry.
 *
 * @param registryModule - Optional module path or URL.
 * @returns The registry.
 * @throws {@link ConfigError} when the module cannot be loaded or has no `createRegistry` function.
 * @example
 * ```ts
 * import { loadRegistry } from '@kv/eval';
 * const registry = await loadRegistry();
 * ```
 */
export async function loadRegistry(registryModule?: string): Promise<PolicyRegistry> {
  // Loaded on demand: a custom registry (in a worker too) does not load every policy package.
  if (registryModule === undefined) return (await import('./registry.js')).createDefaultRegistry();
  const url = /^[a-z]+:/i.test(registryModule) && !isAbsolute(registryModule) ? registryModule : pathToFileURL(resolve(registryModule)).href;
  let mod: { createRegistry?: () => PolicyRegistry | Promise<PolicyRegistry> };
  try {
    mod = (await import(url)) as typeof mod;
  } catch (e) {
    const code = (e as { code?: string }).code;
    const why = code === 'ERR_MODULE_NOT_FOUND' && (e as Error).message.includes(url) ? 'no such file' : ((e as Error).message.split('\n')[0] ?? String(e));
    throw new ConfigError(`--registry ${registryModule}: cannot load the module (${why})`);
  }
  if (typeof mod.createRegistry !== 'function') throw new ConfigError(`--registry ${registryModule} does not export a createRegistry() function`);
  return await mod.createRegistry();
}
