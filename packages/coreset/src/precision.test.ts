import { PolicyRegistry, Rng } from '@kv/core';
import { conformanceChecks } from '@kv/core/testing';
import { describe, expect, it } from 'vitest';
import { coresetPolicies } from './index.js';

const registry = new PolicyRegistry();
for (const p of coresetPolicies) registry.register(p);

const base = { keyDim: 16, valueDim: 8, budget: { fraction: 1 / 4, minBytes: 2000 } };
const precisions = ['int8', { keys: 'int4', values: 'int4', rotate: true }, { keys: 'f16', values: 'int4', residual: 4 }] as const;

for (const precision of precisions) {
  for (const [policy, params] of [['uniform', { sink: 2, window: 4 }], ['balancekv', { sink: 2, window: 4, blockSize: 8 }]] as const) {
    describe(`${policy} conformance, precision ${JSON.stringify(precision)}`, () => {
      for (const c of conformanceChecks({ registry, spec: { ...base, policy, params: { ...params, precision } } })) it(c.name, c.run);
    });
  }
}

describe('precision of the stored rows', () => {
  it('at equal bytes, int4 rows let uniform and balancekv hold more tokens than float32 rows', () => {
    const rng = new Rng(3);
    const keys = rng.fillGaussian(new Float32Array(600 * 64));
    const values = rng.fillGaussian(new Float32Array(600 * 64));
    for (const policy of ['uniform', 'balancekv']) {
      const stored = (precision?: string) => {
        const cache = registry.create({ policy, keyDim: 64, valueDim: 64, budget: { bytes: 40_000 }, params: { sink: 4, window: 8, ...(precision ? { precision } : {}) } });
        cache.prefill(keys, values);
        expect(cache.bytes).toBeLessThanOrEqual(40_000);
        expect(cache.describe().stats['precision']).toBe(precision ?? 'f32');
        return cache.stored;
      };
      expect(stored('int4')).toBeGreaterThan(3 * stored());
    }
  });
});
