import { type Budget, PolicyRegistry, type PolicySpec } from '@kv/core';
import { conformanceChecks } from '@kv/core/testing';
import { describe, it } from 'vitest';
import { heuristicPolicies } from './policies.js';

const registry = new PolicyRegistry().register(...heuristicPolicies);
const dims = { keyDim: 16, valueDim: 8 } as const;
const row = 4 * (dims.keyDim + dims.valueDim);

interface Case {
  readonly title: string;
  readonly spec: PolicySpec;
  readonly exactSpec?: PolicySpec;
  readonly exactTolerance?: number;
}

// Every policy runs under a token budget, a ratio, a fixed byte budget and a fraction of the
// float32 bytes (with and without a floor): the suite checks bytes = state bytes ≤ budget after
// every append and bit-identical continuation after snapshots.
const budgets: readonly [string, Budget][] = [
  ['budget 24', 24],
  ['bytes of 20 rows', { bytes: 20 * row + 7 }],
  ['fraction 1/4', { fraction: 1 / 4 }],
  ['a handful of bytes', { bytes: 3 * row }],
];

const params: Record<string, Record<string, unknown>> = {
  snapkv: { window: 8 },
  // layer 2 of 4 holds 0.68 of the average: within every byte budget above, with a row or more.
  pyramidkv: { layer: 2, layers: 4, window: 4 },
  kivi: { bits: 2, group: 8, residual: 8 },
};

const cases: Case[] = [];
for (const def of heuristicPolicies) {
  const p = params[def.name];
  const withParams = (extra: Partial<PolicySpec>): PolicySpec => ({ policy: def.name, ...dims, seed: 3, ...(p ? { params: p } : {}), ...extra });
  for (const [title, budget] of budgets) {
    const c: Case = { title: `${def.name} (${title})`, spec: withParams({ budget }) };
    // Eviction policies equal exact attention once their budget covers the stream.
    if (def.name !== 'kivi' && title === 'budget 24') {
      cases.push({ ...c, exactSpec: withParams({ budget: 96, ...(def.name === 'pyramidkv' ? { params: { layer: 0, layers: 4 } } : {}) }) });
    } else cases.push(c);
  }
}
for (const policy of ['sliding-window', 'h2o', 'snapkv', 'kivi', 'expected-attention', 'scored']) {
  const p = params[policy];
  cases.push(
    { title: `${policy} (ratio 0.3)`, spec: { policy, ...dims, budget: { ratio: 0.3 }, ...(p ? { params: p } : {}) } },
    { title: `${policy} (fraction 1/8, floor of 6 rows)`, spec: { policy, ...dims, budget: { fraction: 1 / 8, minBytes: 6 * row }, ...(p ? { params: p } : {}) } },
  );
}
cases.push(
  { title: 'h2o (recent 4)', spec: { policy: 'h2o', ...dims, budget: 24, params: { recent: 4 } } },
  { title: 'h2o (sinks 2, buffer 3)', spec: { policy: 'h2o', ...dims, budget: { fraction: 1 / 4 }, params: { sinks: 2, buffer: 3 } } },
  { title: 'tova (chunk 4)', spec: { policy: 'tova', ...dims, budget: { bytes: 20 * row }, params: { chunk: 4 } } },
  { title: 'tova (critical)', spec: { policy: 'tova', ...dims, budget: 24, params: { critical: true, recent: 4 } } },
  { title: 'random (recent 3)', spec: { policy: 'random', ...dims, budget: 24, seed: 9, params: { recent: 3 } } },
  { title: 'snapkv (after keep)', spec: { policy: 'snapkv', ...dims, budget: 24, params: { window: 8, after: 'keep' } } },
  { title: 'expected-attention (rope, full covariance, every 4)', spec: { policy: 'expected-attention', ...dims, budget: { bytes: 4096 }, params: { covariance: 'full', every: 4, rope: { theta: 100, pairing: 'half' } } } },
  { title: 'keydiff (every 3, buffer 2)', spec: { policy: 'keydiff', ...dims, budget: { fraction: 1 / 4 }, params: { every: 3, buffer: 2, sinks: 2, recent: 3 } } },
  { title: 'kivi 4-bit (no budget)', spec: { policy: 'kivi', ...dims, params: { bits: 4, group: 8, residual: 4 } } },
  {
    // 8-bit with the default group 32 / residual 32: 32 to 64 of the 96 tokens are quantized.
    title: 'kivi 8-bit (budget 96)',
    spec: { policy: 'kivi', ...dims, budget: 96, params: { bits: 8 } },
    exactSpec: { policy: 'kivi', ...dims, budget: 96, params: { bits: 8 } },
    exactTolerance: 1e-2, // float16 scales: measured worst 2.7e-3 on this stream
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
