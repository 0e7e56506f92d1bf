import { PolicyRegistry, type PolicySpec } from '@kv/core';
import { conformanceChecks } from '@kv/core/testing';
import { describe, it } from 'vitest';
import { heuristicPolicies } from './policies.js';

const registry = new PolicyRegistry().register(...heuristicPolicies);
const dims = { keyDim: 16, valueDim: 8 } as const;

interface Case {
  readonly title: string;
  readonly spec: PolicySpec;
  readonly exactSpec?: PolicySpec;
  readonly exactTolerance?: number;
}

const eviction = ['sliding-window', 'streaming-llm', 'h2o', 'tova', 'snapkv', 'knorm', 'random'];
const cases: Case[] = [];
for (const policy of eviction) {
  const params = policy === 'snapkv' ? { window: 8 } : undefined;
  cases.push({
    title: `${policy} (budget 24)`,
    spec: { policy, ...dims, budget: 24, seed: 3, ...(params ? { params } : {}) },
    exactSpec: { policy, ...dims, budget: 96, seed: 3, ...(params ? { params } : {}) },
  });
  cases.push({ title: `${policy} (budget ratio 0.3)`, spec: { policy, ...dims, budget: { ratio: 0.3 }, seed: 5 } });
}
cases.push(
  { title: 'h2o (recent 4)', spec: { policy: 'h2o', ...dims, budget: 24, params: { recent: 4 } } },
  { title: 'snapkv (after keep)', spec: { policy: 'snapkv', ...dims, budget: 24, params: { window: 8, after: 'keep' } } },
  {
    title: 'pyramidkv (layer 1 of 4)',
    spec: { policy: 'pyramidkv', ...dims, budget: 24, params: { layer: 1, layers: 4, window: 4 } },
    exactSpec: { policy: 'pyramidkv', ...dims, budget: 96, params: { layer: 0, layers: 4 } },
  },
  // 2-bit and 4-bit cannot equal exact attention, so no exactSpec for them.
  { title: 'kivi 2-bit (group 8, residual 8, budget 24)', spec: { policy: 'kivi', ...dims, budget: 24, params: { bits: 2, group: 8, residual: 8 } } },
  {
    title: 'kivi 2-bit (ratio 0.3, min 24)',
    spec: { policy: 'kivi', ...dims, budget: { ratio: 0.3, min: 24 }, params: { bits: 2, group: 8, residual: 8 } },
  },
  { title: 'kivi 4-bit (no budget)', spec: { policy: 'kivi', ...dims, params: { bits: 4, group: 8, residual: 4 } } },
  {
    // 8-bit with the default group 32 / residual 32: 32 to 64 of the 96 tokens are quantized.
    title: 'kivi 8-bit (budget 96)',
    spec: { policy: 'kivi', ...dims, budget: 96, params: { bits: 8 } },
    exactSpec: { policy: 'kivi', ...dims, budget: 96, params: { bits: 8 } },
    exactTolerance: 2e-3, // measured worst 6.8e-4 on this kind of stream (README)
  },
);

for (const c of cases) {
  describe(`conformance: ${c.title}`, () => {
    for (const check of conformanceChecks({
      registry,
      spec: c.spec,
      ...(c.exactSpec ? { exactSpec: c.exactSpec } : {}),
      ...(c.exactTolerance ? { exactTolerance: c.exactTolerance } : {}),
    })) {
      it(check.name, check.run);
    }
  });
}
