import { PolicyRegistry } from '@kv/core';
import { conformanceChecks } from '@kv/core/testing';
import { describe, expect, it } from 'vitest';
import { coresetPolicies } from './index.js';

const registry = new PolicyRegistry();
for (const p of coresetPolicies) registry.register(p);

const cases = [
  {
    title: 'balancekv (budgeted: merges during the stream)',
    spec: { policy: 'balancekv', keyDim: 16, valueDim: 8, budget: 60, params: { sink: 4, window: 4, blockSize: 16, halvings: 1 } },
    exactSpec: { policy: 'balancekv', keyDim: 16, valueDim: 8, params: { sink: 4, window: 4, blockSize: 128 } },
  },
  {
    title: 'balancekv (no budget: keeps 1/4 of the middle)',
    spec: { policy: 'balancekv', keyDim: 16, valueDim: 8, params: { sink: 2, window: 2, blockSize: 8, halvings: 2 } },
  },
  {
    title: 'balancekv (ratio budget with a large enough min)',
    spec: { policy: 'balancekv', keyDim: 16, valueDim: 8, budget: { ratio: 0.25, min: 52 }, params: { sink: 2, window: 2, blockSize: 16, halvings: 2 } },
  },
  {
    title: 'balancekv-theory (blockSize override so it compresses)',
    spec: { policy: 'balancekv-theory', keyDim: 16, valueDim: 8, params: { radius: 12, blockSize: 16 } },
    exactSpec: { policy: 'balancekv-theory', keyDim: 16, valueDim: 8, params: { radius: 12, blockSize: 128 } },
  },
  {
    title: 'uniform',
    spec: { policy: 'uniform', keyDim: 16, valueDim: 8, budget: 24, params: { sink: 2, window: 4 } },
    exactSpec: { policy: 'uniform', keyDim: 16, valueDim: 8, budget: 96 },
  },
  {
    title: 'subgen',
    spec: { policy: 'subgen', keyDim: 16, valueDim: 8, budget: 48 },
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
