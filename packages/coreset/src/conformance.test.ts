import { PolicyRegistry, type PolicySpec } from '@kv/core';
import { conformanceChecks } from '@kv/core/testing';
import { describe, expect, it } from 'vitest';
import { coresetPolicies } from './index.js';

const registry = new PolicyRegistry();
for (const p of coresetPolicies) registry.register(p);

// d = 16, s = 8: a float32 row is 96 bytes. Every policy runs under token, {bytes} and {fraction}
// budgets (the fraction with and without a floor), small enough that it compresses during the
// 96-token stream.
const base = { keyDim: 16, valueDim: 8 };
const budgets = [
  { name: '24 tokens', budget: 24 },
  { name: '{bytes: 2600}', budget: { bytes: 2600 } },
  { name: '{fraction: 1/4, minBytes: 1536}', budget: { fraction: 1 / 4, minBytes: 1536 } },
  { name: '{fraction: 1/8}', budget: { fraction: 1 / 8 } },
] as const;

const cases: { title: string; spec: PolicySpec; exactSpec?: PolicySpec }[] = [
  ...budgets.map((b) => ({
    title: `balancekv, ${b.name}`,
    spec: { ...base, policy: 'balancekv', budget: b.budget, params: { sink: 4, window: 4, blockSize: 16 } },
  })),
  {
    title: 'balancekv, no budget (keeps 1/4 of the middle)',
    spec: { ...base, policy: 'balancekv', params: { sink: 2, window: 2, blockSize: 8, halvings: 2 } },
    exactSpec: { ...base, policy: 'balancekv', params: { sink: 4, window: 4, blockSize: 128 } },
  },
  {
    title: 'balancekv, ratio budget',
    spec: { ...base, policy: 'balancekv', budget: { ratio: 0.25, min: 12 }, params: { sink: 2, window: 2, blockSize: 16, halvings: 2 } },
  },
  ...budgets.map((b) => ({
    title: `uniform, ${b.name}`,
    spec: { ...base, policy: 'uniform', budget: b.budget, params: { sink: 2, window: 4 } },
    exactSpec: { ...base, policy: 'uniform', budget: 96 },
  })),
  ...budgets.map((b) => ({ title: `subgen, ${b.name}`, spec: { ...base, policy: 'subgen', budget: b.budget } })),
  {
    title: 'balancekv-theory (blockSize override so it compresses)',
    spec: { ...base, policy: 'balancekv-theory', params: { radius: 12, blockSize: 16 } },
    exactSpec: { ...base, policy: 'balancekv-theory', params: { radius: 12, blockSize: 128 } },
  },
];

for (const c of cases) {
  describe(`${c.title} conformance`, () => {
    for (const check of conformanceChecks({ registry, spec: c.spec, ...(c.exactSpec ? { exactSpec: c.exactSpec } : {}) })) it(check.name, check.run);
  });
}

describe('coresetPolicies', () => {
  it('lists the four policies with documented params', () => {
    expect(coresetPolicies.map((p) => p.name).sort()).toEqual(['balancekv', 'balancekv-theory', 'subgen', 'uniform']);
    for (const p of coresetPolicies) for (const param of p.params) expect(param.description.length).toBeGreaterThan(0);
  });
});
