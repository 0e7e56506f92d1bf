import { describe, expect, it } from 'vitest';
import {
  AssumptionViolatedError,
  DimensionMismatchError,
  EmptyCacheError,
  InvalidBudgetError,
  InvalidParamsError,
  isKvError,
  KvError,
  KvErrorCode,
  NonFiniteInputError,
  UnknownPolicyError,
  UnsupportedError,
} from './errors.js';

describe('errors', () => {
  it('carry stable codes and say what was expected and what came', () => {
    const cases: [KvError, KvErrorCode, RegExp][] = [
      [new DimensionMismatchError('key', 63, 64), KvErrorCode.DimensionMismatch, /key has length 63, expected 64/],
      [new NonFiniteInputError('query', 3, NaN), KvErrorCode.NonFiniteInput, /query\[3\] is NaN/],
      [new InvalidBudgetError('budget is 0'), KvErrorCode.InvalidBudget, /budget is 0/],
      [new InvalidParamsError('bad'), KvErrorCode.InvalidParams, /bad/],
      [new EmptyCacheError('exact'), KvErrorCode.EmptyCache, /holds no token/],
      [new UnknownPolicyError('h2o', ['exact']), KvErrorCode.UnknownPolicy, /registered: exact/],
      [new UnsupportedError('no'), KvErrorCode.Unsupported, /no/],
      [new AssumptionViolatedError('norm'), KvErrorCode.AssumptionViolated, /norm/],
    ];
    for (const [e, code, msg] of cases) {
      expect(e.code).toBe(code);
      expect(e.message).toMatch(msg);
      expect(e).toBeInstanceOf(Error);
      expect(isKvError(e, code)).toBe(true);
      expect(e.name).toBe(e.constructor.name);
    }
  });

  it('isKvError recognises errors from another copy of the package by their marker', () => {
    // What a KvError from a second install looks like: another class, the same global symbol.
    const foreign = Object.assign(new Error('x'), { code: KvErrorCode.EmptyCache, [Symbol.for('@kv/core/KvError')]: true });
    expect(isKvError(foreign)).toBe(true);
    expect(isKvError(foreign, KvErrorCode.EmptyCache)).toBe(true);
    expect(isKvError(foreign, KvErrorCode.InvalidBudget)).toBe(false);
    expect(isKvError(new Error('x'))).toBe(false);
    expect(isKvError(Object.assign(new Error('x'), { code: KvErrorCode.EmptyCache }))).toBe(false);
    expect(isKvError(null)).toBe(false);
    expect(isKvError('KV_EMPTY_CACHE')).toBe(false);
  });
});
