import { PolicyRegistry } from '@kv/core';
import { conformanceChecks } from '@kv/core/testing';
import { describe, it } from 'vitest';
import { lshPolicies } from './policies.js';

const registry = new PolicyRegistry().register(...lshPolicies);

const params = {
  'lsh-heavy': { hashes: 3, tables: 2, sample: 4 },
  'lsh-multirate': { hashes: 2, tables: 2, levels: 4, pilot: 4 },
  'lsh-sample': { sink: 2, window: 4, hashes: 3, tables: 3 },
} as const;

for (const precision of ['int8', { keys: 'int4', values: 'int4', rotate: true }] as const) {
  for (const [policy, p] of Object.entries(params)) {
    describe(`${policy} conformance, precision ${JSON.stringify(precision)}`, () => {
      for (const c of conformanceChecks({ registry, spec: { policy, keyDim: 16, valueDim: 8, budget: { fraction: 1 / 4, minBytes: 4000 }, params: { ...p, precision } } })) it(c.name, c.run);
    });
  }
}
