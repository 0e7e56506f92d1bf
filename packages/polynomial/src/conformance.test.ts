import { conformanceChecks } from '@kv/core/testing';
import { describe, it } from 'vitest';
import { registry, Rng } from '../test/helpers.js';

// Token budgets with explicit sizes; byte and fraction budgets with the defaults, which size
// themselves to the smallest bytes the budget gives.
const specs = [
  { policy: 'taylor', keyDim: 8, valueDim: 4, budget: 2000, params: { degree: 4 } },
  { policy: 'taylor', keyDim: 8, valueDim: 4, budget: 2000, params: { degree: 2, warmup: 0 } },
  { policy: 'taylor', keyDim: 8, valueDim: 4, budget: { bytes: 30_000 } },
  { policy: 'taylor', keyDim: 8, valueDim: 4, budget: { fraction: 0.25, minBytes: 9000 } },
  { policy: 'multipole', keyDim: 8, valueDim: 4, budget: 4000, params: { degree: 4, cells: 6, radius: 2 } },
  { policy: 'multipole', keyDim: 8, valueDim: 4, budget: { bytes: 40_000 }, params: { radius: 2 } },
  { policy: 'multipole', keyDim: 8, valueDim: 4, budget: { fraction: 0.5, minBytes: 6000 }, params: { radius: 2 } },
  { policy: 'performer', keyDim: 8, valueDim: 4, budget: 400, seed: 3, params: { features: 64 } },
  { policy: 'performer', keyDim: 8, valueDim: 4, budget: { bytes: 6000 }, seed: 3 },
  { policy: 'performer', keyDim: 8, valueDim: 4, budget: { fraction: 0.25, minBytes: 3000 }, seed: 3 },
];

for (const spec of specs) {
  describe(`${spec.policy} ${JSON.stringify(spec.params ?? {})} budget ${JSON.stringify(spec.budget)} conformance`, () => {
    for (const c of conformanceChecks({ registry, spec })) it(c.name, c.run);
  });
}

describe('prefill', () => {
  it('gives bit-identical answers to appending the same tokens one by one', () => {
    const rng = new Rng(12);
    const d = 3;
    const s = 2;
    const n = 50;
    const keys = rng.fillGaussian(new Float32Array(n * d));
    const values = rng.fillGaussian(new Float32Array(n * s));
    const q = rng.fillGaussian(new Float32Array(d));
    for (const spec of [
      { policy: 'taylor', keyDim: d, valueDim: s, params: { degree: 4, warmup: 8 } },
      { policy: 'multipole', keyDim: d, valueDim: s, params: { degree: 2, cells: 3, radius: 0.5 } },
      { policy: 'performer', keyDim: d, valueDim: s, seed: 4, params: { features: 16 } },
    ]) {
      const a = registry.create(spec);
      const b = registry.create(spec);
      a.prefill(keys.subarray(0, 20 * d), values.subarray(0, 20 * s));
      a.prefill(keys.subarray(20 * d), values.subarray(20 * s));
      for (let i = 0; i < n; i++) b.append(keys.subarray(i * d, (i + 1) * d), values.subarray(i * s, (i + 1) * s));
      const oa = a.attend(q, new Float32Array(s));
      const ob = b.attend(q, new Float32Array(s));
      if (Array.from(oa).join() !== Array.from(ob).join() || a.seen !== n) throw new Error(`${spec.policy}: prefill ${oa} ≠ appends ${ob}`);
    }
  });
});
