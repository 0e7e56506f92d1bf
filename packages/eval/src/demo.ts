import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { EvalConfig } from './config.js';

/**
 * Where the committed real-attention sample lives: `data/real-attention` at the repository root
 * (4 heads of the tiny byte-level model reading 1024 bytes of the KJV, float16 `.npy`; made by
 * `data/make-sample.ts`). From `src/` and from `dist/` alike it is three folders up.
 *
 * @returns The folder (it exists in a clone of the repository, not in an installed package).
 * @example
 * ```ts
 * import { existsSync } from 'node:fs';
 * import { demoSamplePath } from '@kv/eval';
 * existsSync(demoSamplePath()); // true in a clone
 * ```
 */
export function demoSamplePath(): string {
  return fileURLToPath(new URL('../../../data/real-attention/', import.meta.url));
}

/**
 * The built-in comparison behind `kv-eval demo` and the repository's `pnpm demo`: every
 * registered policy at 1/4, 1/8 and 1/16 of the float32 bytes, on the committed real-attention
 * sample first (when present), then on two synthetic families (Gaussian, heavy hitters with
 * attention sinks) and the INDEX hard instance (n = 1024, d = s = 16); seed 0, decode protocol
 * with the default query times. `params` sizes the policies whose defaults need a layer or radius.
 *
 * @example
 * ```ts
 * import { demoConfig, evaluate } from '@kv/eval';
 * const report = await evaluate(demoConfig);
 * ```
 */
export const demoConfig: EvalConfig = {
  name: 'demo',
  policies: 'all',
  params: {
    'balancekv-theory': { radius: 10 },
    pyramidkv: { layer: 0, layers: 1 },
    tiered: { sinks: 4, window: 32, middle: { policy: 'balancekv', params: { sink: 0, window: 0 } } },
    partitioned: { route: { kind: 'lsh', hashes: 1 }, parts: [{ policy: 'h2o' }, { policy: 'h2o' }] },
  },
  budgets: ['1/4', '1/8', '1/16'],
  workloads: [
    ...(existsSync(demoSamplePath()) ? [{ family: 'npy' as const, name: 'real attention', path: demoSamplePath() }] : []),
    { family: 'gaussian', n: 1024, d: 16, s: 16, rho: 4 },
    { family: 'heavy-hitters', n: 1024, d: 16, s: 16, rho: 6 },
    { family: 'index', n: 1024, d: 16, s: 16 },
  ],
  seeds: [0],
};
