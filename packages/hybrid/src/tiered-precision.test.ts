import { exactPolicy, PolicyRegistry, Rng } from '@kv/core';
import { conformanceChecks } from '@kv/core/testing';
import { polynomialPolicies } from '@kv/polynomial';
import { describe, expect, it } from 'vitest';
import { type TieredCache, tiered, tieredPolicy } from './tiered.js';

const registry = new PolicyRegistry().register(exactPolicy, tieredPolicy, ...polynomialPolicies);
const dims = { keyDim: 16, valueDim: 8 };
const perPart = { sinks: 'f16', window: 'int8', middle: 'int4' };

describe('tiered with a precision per part', () => {
  for (const budget of [{ fraction: 0.25, minBytes: 2000 }, { bytes: 6000 }]) {
    for (const window of [24, { share: 0.5 }] as const) {
      describe(`${JSON.stringify(budget)}, window ${JSON.stringify(window)}: conformance`, () => {
        const spec = { ...tiered({ sinks: 4, window, middle: { policy: 'moment-cells' } }), ...dims, budget };
        const choice = { ...spec, params: { ...spec.params, precision: perPart } };
        for (const c of conformanceChecks({ registry, spec: choice, steps: 160 })) it(c.name, c.run);
      });
    }
  }

  it('stores each part at its precision, passes the middle its own, and fits more rows in the same bytes', () => {
    const spec = { ...tiered({ sinks: 4, window: { share: 0.5 }, middle: { policy: 'moment-cells' } }), ...dims, budget: { bytes: 8000 } };
    const f32 = registry.create(spec) as TieredCache;
    const mixed = registry.create({ ...spec, params: { ...spec.params, precision: perPart } }) as TieredCache;
    const stats = mixed.describe().stats;
    expect([stats['sinkPrecision'], stats['windowPrecision']]).toEqual(['f16', 'int8']);
    expect(mixed.describe().parts![0]!.summary).toContain('int4');
    expect(Number(stats['windowSize'])).toBeGreaterThan(2 * Number(f32.describe().stats['windowSize']));
  });

  describe('an int4 window cheaper per token than the fraction (f·ρ > its row): conformance', () => {
    // Each window token frees f·ρ of the middle's budget but costs less, so the reservation must
    // charge it f·ρ while the window is not full yet (here: float32 sinks fill the floor first).
    const spec = { ...tiered({ sinks: 2, window: 24, middle: { policy: 'moment-cells' } }), ...dims, budget: { fraction: 0.5, minBytes: 200 } };
    const choice = { ...spec, params: { ...spec.params, precision: { window: 'int4' } } };
    for (const c of conformanceChecks({ registry, spec: choice, steps: 160 })) it(c.name, c.run);
  });

  it('keeps a sink position as a late sink when a cheaper window held it while the sinks could not', () => {
    const spec = { ...tiered({ sinks: 4, window: 8 }), ...dims, budget: { fraction: 0.75, minBytes: 272 }, params: { sinks: 4, window: 8, precision: { window: 'int8' } } };
    const cache = registry.create(spec) as TieredCache;
    const rng = new Rng(1);
    let onArrival = 0;
    for (let t = 0; t < 200; t++) {
      cache.append(rng.fillGaussian(new Float32Array(16)), rng.fillGaussian(new Float32Array(8)));
      if (t === 3) onArrival = cache.sinksHeld;
    }
    // Some sink positions arrived when the sinks could not hold them, waited in the window, and
    // became sinks when they left it.
    expect(onArrival).toBeLessThan(4);
    expect(cache.sinksHeld).toBeGreaterThan(onArrival);
    const sinks = [...cache.positions()].slice(0, cache.sinksHeld);
    expect(sinks.every((p) => p < 4)).toBe(true);
  });

  it('refuses a precision of a part it does not have, or a bad codec', () => {
    const spec = { ...tiered({ sinks: 4, window: 8, middle: { policy: 'moment-cells' } }), ...dims, budget: { bytes: 8000 } };
    expect(() => registry.create({ ...spec, params: { ...spec.params, precision: { sinks: 'f16', tail: 'int4' } } })).toThrow(/no part "tail"/);
    expect(() => registry.create({ ...spec, params: { ...spec.params, precision: { window: 'int5' } } })).toThrow(/int5/);
  });
});
