import { isKvError, KvErrorCode } from '@kv/core';
import { describe, expect, it } from 'vitest';
import { FourCache } from './four-cache.js';
import { createTensorCache, tensorCaches } from './registry.js';
import { TaylorCache } from './taylor-cache.js';
import { TwoCache } from './two-cache.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return isKvError(e) ? e.code : String(e);
  }
  return undefined;
}

describe('tensorCaches and createTensorCache', () => {
  it('lists the three layouts with unique names and builds each', () => {
    expect(tensorCaches.map((c) => c.name)).toEqual(['tensor-four-cache', 'tensor-two-cache', 'tensor-taylor']);
    expect(createTensorCache({ policy: 'tensor-four-cache', keyDim: 4, valueDim: 2 })).toBeInstanceOf(FourCache);
    expect(createTensorCache({ policy: 'tensor-two-cache', keyDim: 4, valueDim: 2 })).toBeInstanceOf(TwoCache);
    expect(createTensorCache({ policy: 'tensor-taylor', keyDim: 4, valueDim: 2 })).toBeInstanceOf(TaylorCache);
  });

  it('rejects unknown layouts, bad dimensions, τ and parameters with typed errors', () => {
    expect(codeOf(() => createTensorCache({ policy: 'tensor-three-cache', keyDim: 4, valueDim: 2 }))).toBe(KvErrorCode.UnknownPolicy);
    expect(codeOf(() => createTensorCache({ policy: 'tensor-two-cache', keyDim: 0, valueDim: 2 }))).toBe(KvErrorCode.InvalidParams);
    expect(codeOf(() => createTensorCache({ policy: 'tensor-two-cache', keyDim: 2, valueDim: 2, tau: -1 }))).toBe(KvErrorCode.InvalidParams);
    expect(codeOf(() => createTensorCache({ policy: 'tensor-two-cache', keyDim: 2, valueDim: 2, params: { pairs: 'x' } }))).toBe(KvErrorCode.InvalidParams);
    expect(codeOf(() => createTensorCache({ policy: 'tensor-four-cache', keyDim: 2, valueDim: 2, params: { pairs: 'x' } }))).toBe(KvErrorCode.InvalidParams);
    expect(codeOf(() => createTensorCache({ policy: 'tensor-four-cache', keyDim: 2, valueDim: 2, budget: 0 }))).toBe(KvErrorCode.InvalidBudget);
    expect(codeOf(() => createTensorCache({ policy: 'tensor-four-cache', keyDim: 2, valueDim: 2, params: { pairs: 'materialized' } }))).toBeUndefined();
  });
});
