import { describe, expect, it } from 'vitest';
import type { PolicyDefinition } from './contract.js';
import { isKvError, KvErrorCode } from './errors.js';
import { exactPolicy } from './exact.js';
import { PolicyRegistry } from './registry.js';

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return isKvError(e) ? e.code : `not a KvError: ${String(e)}`;
  }
  return 'nothing thrown';
}

const needsBudget: PolicyDefinition = {
  ...exactPolicy,
  name: 'needs-budget',
  budget: 'required',
  params: [{ name: 'window', type: 'integer', description: 'w' }],
};

describe('PolicyRegistry', () => {
  const registry = new PolicyRegistry().register(exactPolicy, needsBudget);

  it('creates registered policies and lists them by name', () => {
    expect(registry.create({ policy: 'exact', keyDim: 4, valueDim: 2 }).keyDim).toBe(4);
    expect(registry.list().map((d) => d.name)).toEqual(['exact', 'needs-budget']);
    expect(registry.has('exact')).toBe(true);
    expect(new PolicyRegistry().has('exact')).toBe(false);
  });

  it('rejects unknown policies, unknown params, bad dimensions, τ, seeds and budgets', () => {
    const base = { policy: 'needs-budget', keyDim: 4, valueDim: 2, budget: 8 };
    expect(codeOf(() => registry.create({ ...base, policy: 'h2o' }))).toBe(KvErrorCode.UnknownPolicy);
    expect(codeOf(() => registry.create({ ...base, params: { windw: 3 } }))).toBe(KvErrorCode.InvalidParams);
    expect(codeOf(() => registry.create({ ...base, keyDim: 0 }))).toBe(KvErrorCode.InvalidParams);
    expect(codeOf(() => registry.create({ ...base, valueDim: 2.5 }))).toBe(KvErrorCode.InvalidParams);
    expect(codeOf(() => registry.create({ ...base, tau: -1 }))).toBe(KvErrorCode.InvalidParams);
    expect(codeOf(() => registry.create({ ...base, seed: 0.5 }))).toBe(KvErrorCode.InvalidParams);
    expect(codeOf(() => registry.create({ ...base, budget: undefined }))).toBe(KvErrorCode.InvalidBudget);
    for (const budget of [0, -3, 1.5, { ratio: 0 }, { ratio: 1.5 }, { tokens: 0 }, { ratio: 0.5, min: 0 }, {}]) {
      expect(codeOf(() => registry.create({ ...base, budget: budget as never }))).toBe(KvErrorCode.InvalidBudget);
    }
    expect(codeOf(() => registry.create({ ...base, params: { window: 3 } }))).toBe('nothing thrown');
  });

  it('refuses a second, different definition under one name', () => {
    expect(codeOf(() => new PolicyRegistry().register(exactPolicy, { ...exactPolicy }))).toBe(KvErrorCode.InvalidParams);
    expect(codeOf(() => new PolicyRegistry().register(exactPolicy, exactPolicy))).toBe('nothing thrown');
  });
});
