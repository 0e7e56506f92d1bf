import type { EvalConfig } from './config.js';

/**
 * The built-in comparison behind `kv-eval demo` and the repository's `pnpm demo`: every
 * registered policy at 1/4 and 1/8 of the stream on two synthetic workloads (Gaussian, and heavy
 * hitters with attention sinks) and the INDEX hard instance; n = 1024, d = s = 16, seed 0.
 * `params` sizes the policies whose defaults do not fit these budgets or need a layer/radius.
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
    balancekv: { sink: 16, window: 16, blockSize: 64 },
    'balancekv-theory': { radius: 10 },
    'hybrid-cells': { cells: 4, degree: 1, samples: 8 },
    multipole: { degree: 2, cells: 1 },
    performer: { features: 48 },
    pyramidkv: { layer: 0, layers: 1 },
    taylor: { degree: 2 },
    tiered: { sinks: 4, window: 32, middle: { policy: 'balancekv', params: { sink: 0, window: 0, blockSize: 32 } } },
    partitioned: { route: { kind: 'lsh', hashes: 1 }, parts: [{ policy: 'h2o' }, { policy: 'h2o' }] },
  },
  budgets: ['1/4', '1/8'],
  workloads: [
    { family: 'gaussian', n: 1024, d: 16, s: 16, rho: 4 },
    { family: 'heavy-hitters', n: 1024, d: 16, s: 16, rho: 6 },
    { family: 'index', n: 1024, d: 16, s: 16 },
  ],
  seeds: [0],
  queryStride: 1,
};
