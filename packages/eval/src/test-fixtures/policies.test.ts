// The eval tests lean on these fixtures: they must keep the HeadCache contract themselves.
import { conformanceChecks } from '@kv/core/testing';
import { describe, it } from 'vitest';
import { createRegistry } from './policies.js';

const registry = createRegistry();

for (const policy of ['test-window', 'test-uniform']) {
  for (const budget of [24, { bytes: 2000 }, { fraction: 0.25 }, { fraction: 0.25, minBytes: 1500 }] as const) {
    describe(`fixture ${policy} at ${JSON.stringify(budget)}`, () => {
      const spec = { policy, keyDim: 8, valueDim: 4, budget, seed: 5 };
      for (const c of conformanceChecks({ registry, spec, exactSpec: { ...spec, budget: 96 } })) it(c.name, c.run);
    });
  }
  for (const precision of ['f16', 'int4'] as const) {
    describe(`fixture ${policy} in ${precision}`, () => {
      const spec = { policy, keyDim: 8, valueDim: 8, budget: { bytes: 1200 }, seed: 5, params: { precision } };
      for (const c of conformanceChecks({ registry, spec })) it(c.name, c.run);
    });
  }
}
