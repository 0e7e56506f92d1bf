import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { budgetBytes, capacityRows, floorBytes, maxRows, partBudget, requireFits, validateBudget } from './budget.js';
import type { Budget } from './contract.js';
import { isKvError, KvErrorCode } from './errors.js';

const code = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    return isKvError(e) ? e.code : String(e);
  }
  return 'nothing thrown';
};
const row = { fixed: 0, perRow: 516 };

describe('budgets', () => {
  it('resolve token counts and ratios of tokens seen as before', () => {
    expect(capacityRows(undefined, 10, row, 64, 64)).toBe(Infinity);
    expect(capacityRows(16, 1000, row, 64, 64)).toBe(16);
    expect(capacityRows({ tokens: 16 }, 1000, row, 64, 64)).toBe(16);
    expect(capacityRows({ ratio: 0.25 }, 1000, row, 64, 64)).toBe(250);
    expect(capacityRows({ ratio: 0.25 }, 0, row, 64, 64)).toBe(1);
    expect(capacityRows({ ratio: 0.25, min: 8 }, 10, row, 64, 64)).toBe(8);
  });

  it('turn bytes and fractions of the float32 bytes seen into rows of the policy', () => {
    expect(budgetBytes({ fraction: 0.25 }, 1000, 64, 64)).toBe(128_000);
    expect(capacityRows({ fraction: 0.25 }, 1000, row, 64, 64)).toBe(248);
    expect(capacityRows({ bytes: 10_000 }, 5, { fixed: 1000, perRow: 100 }, 8, 8)).toBe(90);
    expect(capacityRows({ bytes: 999 }, 5, { fixed: 1000, perRow: 100 }, 8, 8)).toBe(0);
    // a summary: rows are free once its fixed part fits
    expect(capacityRows({ bytes: 1000 }, 5, { fixed: 1000, perRow: 0 }, 8, 8)).toBe(Infinity);
    expect(capacityRows({ bytes: 999 }, 5, { fixed: 1000, perRow: 0 }, 8, 8)).toBe(0);
    expect(budgetBytes({ fraction: 0.5, minBytes: 4096 }, 1, 8, 8)).toBe(4096);
    expect(budgetBytes({ fraction: 0.5, offsetBytes: -100 }, 1, 8, 8)).toBe(0);
    expect(maxRows({ bytes: 10_000 }, row, 64, 64)).toBe(19);
    expect(maxRows({ fraction: 0.5 }, row, 64, 64)).toBe(Infinity);
    expect(floorBytes({ fraction: 0.5, minBytes: 77 }, 8, 8)).toBe(77);
    expect(floorBytes(4, 8, 8)).toBe(4 * 64);
  });

  test.prop([fc.integer({ min: 1, max: 1 << 24 }), fc.integer({ min: 0, max: 1 << 16 }), fc.integer({ min: 1, max: 4096 }), fc.integer({ min: 0, max: 1e5 })])(
    'rows of a byte budget never cost more than the budget, and one more row would',
    (bytes, fixed, perRow, seen) => {
      for (const budget of [{ bytes }, { fraction: Math.min(1, bytes / (1 << 24)) }] as Budget[]) {
        const b = budgetBytes(budget, seen, 16, 16);
        const rows = capacityRows(budget, seen, { fixed, perRow }, 16, 16);
        expect(fixed + rows * perRow <= b || rows === 0).toBe(true);
        if (fixed <= b) expect(fixed + (rows + 1) * perRow).toBeGreaterThan(b);
      }
    },
  );

  it('reject malformed budgets with a typed error naming the field', () => {
    const bad: unknown[] = [0, -1, 1.5, NaN, 'x', null, [], { ratio: 0 }, { ratio: 2 }, { bytes: 0 }, { bytes: 1.5 },
      { fraction: 0 }, { fraction: 1.01 }, { fraction: 0.5, minBytes: -1 }, { fraction: 0.5, offsetBytes: 0.5 },
      { tokens: 4, extra: 1 }, { bytes: 64, fraction: 0.5 }, {}];
    for (const b of bad) expect(code(() => validateBudget(b as Budget)), JSON.stringify(b)).toBe(KvErrorCode.InvalidBudget);
    for (const b of [1, { tokens: 3 }, { ratio: 1 }, { bytes: 1 }, { fraction: 1, minBytes: 0, offsetBytes: -5 }] as Budget[]) {
      expect(code(() => validateBudget(b))).toBe('nothing thrown');
    }
  });

  it('refuse a fixed part that does not fit, naming the smallest budget that does', () => {
    expect(() => requireFits('taylor', { bytes: 100 }, { fixed: 300, perRow: 0 }, 8, 8)).toThrow(/smallest budget that fits is \{ bytes: 300 \}/);
    expect(() => requireFits('taylor', { fraction: 0.5 }, { fixed: 300, perRow: 0 }, 8, 8)).toThrow(/minBytes: 300/);
    expect(code(() => requireFits('taylor', { fraction: 0.5, minBytes: 300 }, { fixed: 300, perRow: 0 }, 8, 8))).toBe('nothing thrown');
  });

  it('leave parts of a combinator what the reserved rows do not use', () => {
    expect(partBudget(100, { reservedRows: 36, reservedRowBytes: 516, parts: 2 }, 64, 64)).toBe(32);
    expect(partBudget({ bytes: 65536 }, { reservedRows: 36, reservedRowBytes: 516 }, 64, 64)).toEqual({ bytes: 46960 });
    expect(code(() => partBudget({ bytes: 1000 }, { reservedRows: 2, reservedRowBytes: 516 }, 64, 64))).toBe(KvErrorCode.InvalidBudget);
    // the middle of a tiered cache sees `seen − 36` tokens; once the reserved rows fit, its budget
    // plus theirs is the whole budget (before, it is 0 and the combinator must shrink its own rows)
    const whole: Budget = { fraction: 0.25 };
    const middle = partBudget(whole, { reservedRows: 36, reservedRowBytes: 516, seenShift: 36 }, 64, 64)!;
    for (const seen of [1000, 5000]) {
      expect(budgetBytes(middle, seen - 36, 64, 64) + 36 * 516).toBeCloseTo(budgetBytes(whole, seen, 64, 64), -1);
    }
  });
});
