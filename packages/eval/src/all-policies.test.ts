// Every policy kv-eval registers, at random byte budgets: the bytes it holds never exceed the
// budget after an append, its answers are finite, and a snapshot taken at a random step restores
// to a cache that continues bit for bit. A policy may refuse a budget only at create, with an
// InvalidBudgetError naming the smallest budget that fits, and never one of a generous size.
import { InvalidBudgetError, type PolicySpec } from '@kv/core';
import { checkByteBudget, checkSnapshotRoundTrip } from '@kv/core/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { demoConfig } from './demo.js';
import { createDefaultRegistry } from './registry.js';

const registry = createDefaultRegistry();
const d = 8;
const s = 8;
const row = 4 * (d + s);
const steps = 64;
const params = demoConfig.params ?? {};

const budget = fc.oneof(
  fc.integer({ min: 8 * row, max: 2 * steps * row }).map((bytes) => ({ bytes })),
  // As kv-eval passes fractions: f of the bytes seen, floored at its value at the first query time.
  fc.record({ fraction: fc.double({ min: 1 / 16, max: 1, noNaN: true }), from: fc.integer({ min: 8, max: steps / 2 }) }).map(({ fraction, from }) => ({ fraction, minBytes: Math.floor(fraction * row * from) })),
);

function spec(policy: string, b: PolicySpec['budget'], seed: number): PolicySpec {
  return { policy, keyDim: d, valueDim: s, seed, ...(params[policy] ? { params: params[policy] } : {}), ...(b !== undefined ? { budget: b } : {}) };
}

// Runs `check` unless create refuses the budget as too small for the policy's fixed part.
function unlessRefused(policy: string, b: PolicySpec['budget'], check: () => void): void {
  try {
    registry.create(spec(policy, b, 0));
  } catch (e) {
    expect(e, `${policy} at ${JSON.stringify(b)}: ${String(e)}`).toBeInstanceOf(InvalidBudgetError);
    expect((e as Error).message).toMatch(/smallest budget that fits/);
    return;
  }
  check();
}

describe('every registered policy', () => {
  for (const def of registry.list()) {
    describe(def.name, () => {
      if (def.budget !== 'none') {
        it('holds at most its {bytes} or {fraction} budget after every append, and answers finite values', () => {
          fc.assert(
            fc.property(budget, fc.integer({ min: 0, max: 2 ** 31 - 1 }), (b, seed) => {
              unlessRefused(def.name, b, () => checkByteBudget(registry, spec(def.name, b, seed), { steps, seed }));
            }),
            { numRuns: 20 },
          );
        });

        it('accepts a generous budget (the whole stream in float32) without refusing it', () => {
          for (const b of [{ bytes: steps * row }, { fraction: 1, minBytes: steps * row }]) checkByteBudget(registry, spec(def.name, b, 1), { steps, seed: 1 });
        });
      }

      it('continues bit for bit after a snapshot at a random step', () => {
        fc.assert(
          fc.property(budget, fc.integer({ min: 0, max: steps - 2 }), fc.integer({ min: 0, max: 2 ** 31 - 1 }), (b, at, seed) => {
            const chosen = def.budget === 'none' ? undefined : b;
            unlessRefused(def.name, chosen, () => checkSnapshotRoundTrip(registry, spec(def.name, chosen, seed), { steps, at, seed }));
          }),
          { numRuns: 8 },
        );
      });
    });
  }
});
