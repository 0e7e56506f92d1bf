import { budgetBytes, isByteBudget } from '../budget.js';
import type { HeadCache, PolicyRegistryLike, PolicySpec } from '../contract.js';
import { ExactCache } from '../exact.js';
import { isKvError, KvErrorCode } from '../errors.js';
import { Rng } from '../rng.js';
import { stateBytes } from '../state.js';
import { createKernelSums, type KernelSums, mergeSums, sumsToOutput } from '../sums.js';
import { assert, ConformanceError, makeStream, sameArrays } from './shared.js';
import { snapshotChecks } from './snapshot-checks.js';

/**
 * One named conformance check; `run` throws a {@link ConformanceError} on failure.
 *
 * @example
 * ```ts
 * import { PolicyRegistry, exactPolicy } from '@kv/core';
 * import { conformanceChecks, type ConformanceCheck } from '@kv/core/testing';
 * const registry = new PolicyRegistry().register(exactPolicy);
 * const checks: ConformanceCheck[] = conformanceChecks({ registry, spec: { policy: 'exact', keyDim: 4, valueDim: 4 } });
 * for (const check of checks) check.run();
 * ```
 */
export interface ConformanceCheck {
  /** What is checked. */
  readonly name: string;
  /** Runs the check. */
  run(): void;
}

/**
 * Options of {@link conformanceChecks}.
 *
 * @example
 * ```ts
 * import { PolicyRegistry, exactPolicy } from '@kv/core';
 * import { conformanceChecks, type ConformanceOptions } from '@kv/core/testing';
 * const options: ConformanceOptions = {
 *   registry: new PolicyRegistry().register(exactPolicy),
 *   spec: { policy: 'exact', keyDim: 8, valueDim: 8 },
 *   exactSpec: { policy: 'exact', keyDim: 8, valueDim: 8 },
 *   steps: 48,
 * };
 * conformanceChecks(options).length; // includes the exactness and merge checks
 * ```
 */
export interface ConformanceOptions {
  /** Registry that knows the policy (and any sub-policies). */
  readonly registry: PolicyRegistryLike;
  /** The spec under test (its budget should be smaller than `steps` to exercise eviction). */
  readonly spec: PolicySpec;
  /** Tokens in the random stream (default 96). */
  readonly steps?: number;
  /**
   * A spec of the same policy that must equal exact attention on a stream of `steps` tokens
   * (for example the budget raised to the stream length). Enables the exactness and merge checks.
   */
  readonly exactSpec?: PolicySpec;
  /** Relative tolerance of the exactness checks (default 1e-5). */
  readonly exactTolerance?: number;
  /** Stream seed (default 1). */
  readonly seed?: number;
  /** Largest key/query norm in the random stream (default 4). */
  readonly norm?: number;
}

function expectKvError(fn: () => void, code: KvErrorCode, what: string): void {
  try {
    fn();
  } catch (e) {
    assert(isKvError(e, code), `${what}: expected a KvError ${code}, got ${String(e)}`);
    return;
  }
  throw new ConformanceError(`${what}: expected a KvError ${code}, nothing was thrown`);
}

function summary(cache: HeadCache): string {
  return JSON.stringify({ seen: cache.seen, stored: cache.stored, bytes: cache.bytes, capacity: cache.capacity });
}

/**
 * The policy conformance suite: runs any spec through the {@link HeadCache} contract. Returns
 * runner-agnostic checks, so any test runner can register them:
 *
 * @param options - Registry, spec and stream options.
 * @returns The checks.
 * @example
 * ```ts
 * import { describe, it } from 'vitest';
 * import { PolicyRegistry, exactPolicy } from '@kv/core';
 * import { conformanceChecks } from '@kv/core/testing';
 * const registry = new PolicyRegistry().register(exactPolicy);
 * describe('exact', () => {
 *   for (const c of conformanceChecks({ registry, spec: { policy: 'exact', keyDim: 8, valueDim: 8 } })) it(c.name, c.run);
 * });
 * ```
 */
export function conformanceChecks(options: ConformanceOptions): ConformanceCheck[] {
  const { registry, spec } = options;
  const steps = options.steps ?? 96;
  const d = spec.keyDim;
  const s = spec.valueDim;
  const seed = options.seed ?? 1;
  const stream = makeStream(steps, d, s, seed, options.norm ?? 4);
  const create = (sp: PolicySpec = spec): HeadCache => registry.create(sp);
  const out = new Float32Array(s);

  // Replays the stream, answering each query after its token; `visit` sees every step.
  const replay = (cache: HeadCache, visit?: (t: number, output: Float32Array) => void): Float32Array[] => {
    const outputs: Float32Array[] = [];
    for (let t = 0; t < steps; t++) {
      cache.append(stream.keys[t]!, stream.values[t]!);
      const o = cache.attend(stream.queries[t]!, new Float32Array(s));
      outputs.push(o);
      visit?.(t, o);
    }
    return outputs;
  };

  const checks: ConformanceCheck[] = [
    {
      name: 'answers with finite outputs, equal to N/Z of its kernel sums',
      run() {
        const cache = create();
        const sums = createKernelSums(s);
        const fromSums = new Float32Array(s);
        for (let t = 0; t < steps; t++) {
          cache.append(stream.keys[t]!, stream.values[t]!);
          // A twin answers through sums(); the cache under test through attend(). Query-aware
          // policies update on both, so the twin keeps the same history.
          cache.attend(stream.queries[t]!, out);
          for (const v of out) assert(Number.isFinite(v), `step ${t}: output is not finite (${v})`);
        }
        const probe = stream.queries[0]!;
        cache.sums(probe, sums);
        sumsToOutput(sums, fromSums);
        const again = create();
        replay(again);
        again.attend(probe, out);
        for (let j = 0; j < s; j++) {
          assert(Math.abs(out[j]! - fromSums[j]!) <= 1e-5 * (1 + Math.abs(fromSums[j]!)), `attend ≠ N/Z at ${j}: ${out[j]} vs ${fromSums[j]}`);
        }
      },
    },
    {
      name: 'counts tokens seen and never stores more than its budget',
      run() {
        const cache = create();
        assert(cache.seen === 0 && cache.stored === 0, `fresh cache reports seen=${cache.seen} stored=${cache.stored}`);
        replay(cache, (t) => {
          assert(cache.seen === t + 1, `step ${t}: seen is ${cache.seen}, expected ${t + 1}`);
          assert(cache.stored <= cache.capacity, `step ${t}: stored ${cache.stored} exceeds capacity ${cache.capacity}`);
          assert(cache.stored >= 0 && Number.isInteger(cache.stored), `step ${t}: stored ${cache.stored} is not a count`);
        });
      },
    },
    {
      name: 'reports as bytes exactly the arrays of its state, and its budget bounds them',
      run() {
        const cache = create();
        replay(cache, (t) => {
          const held = stateBytes(cache.state());
          assert(cache.bytes === held, `step ${t}: bytes ${cache.bytes} ≠ ${held} held in its state`);
          if (isByteBudget(spec.budget)) {
            const limit = budgetBytes(spec.budget, cache.seen, d, s);
            assert(cache.bytes <= limit, `step ${t}: holds ${cache.bytes} bytes, over its byte budget of ${limit}`);
          } else if (Number.isFinite(cache.capacity)) {
            // A token budget counts token-equivalents: fp32 rows plus 32 bytes of per-slot
            // bookkeeping each, and 4 KiB of fixed state.
            const limit = cache.capacity * (4 * (d + s) + 32) + 4096;
            assert(cache.bytes <= limit, `step ${t}: holds ${cache.bytes} bytes, more than ${limit} allowed by capacity ${cache.capacity}`);
          }
        });
      },
    },
    {
      name: 'rejects bad input with typed errors and leaves its state unchanged',
      run() {
        const cache = create();
        const twin = create();
        expectKvError(() => cache.attend(stream.queries[0]!, out), KvErrorCode.EmptyCache, 'query on an empty cache');
        const half = Math.floor(steps / 2);
        for (let t = 0; t < half; t++) {
          cache.append(stream.keys[t]!, stream.values[t]!);
          twin.append(stream.keys[t]!, stream.values[t]!);
          cache.attend(stream.queries[t]!, out);
          twin.attend(stream.queries[t]!, out);
        }
        const before = summary(cache);
        const nanKey = stream.keys[0]!.slice();
        nanKey[d - 1] = NaN;
        const infValue = stream.values[0]!.slice();
        infValue[0] = Infinity;
        const infQuery = stream.queries[0]!.slice();
        infQuery[0] = -Infinity;
        const bad: [() => void, KvErrorCode, string][] = [
          [() => cache.append(new Float32Array(d + 1), stream.values[0]!), KvErrorCode.DimensionMismatch, 'key of length d+1'],
          [() => cache.append(stream.keys[0]!, new Float32Array(Math.max(0, s - 1))), KvErrorCode.DimensionMismatch, 'value of length s-1'],
          [() => cache.append(nanKey, stream.values[0]!), KvErrorCode.NonFiniteInput, 'NaN in a key'],
          [() => cache.append(stream.keys[0]!, infValue), KvErrorCode.NonFiniteInput, 'Infinity in a value'],
          [() => cache.attend(new Float32Array(d + 2), out), KvErrorCode.DimensionMismatch, 'query of length d+2'],
          [() => cache.attend(infQuery, out), KvErrorCode.NonFiniteInput, '-Infinity in a query'],
          [() => cache.attend(stream.queries[0]!, new Float32Array(s + 1)), KvErrorCode.DimensionMismatch, 'output of length s+1'],
          [() => cache.sums(stream.queries[0]!, createKernelSums(s + 1)), KvErrorCode.DimensionMismatch, 'sums of width s+1'],
          [() => cache.prefill(new Float32Array(d * 2 + 1), new Float32Array(s * 2)), KvErrorCode.DimensionMismatch, 'ragged prefill keys'],
          [() => cache.prefill(new Float32Array(d * 2), new Float32Array(s * 3)), KvErrorCode.DimensionMismatch, 'prefill values of another count'],
        ];
        for (const [fn, code, what] of bad) {
          expectKvError(fn, code, what);
          assert(summary(cache) === before, `${what}: state changed from ${before} to ${summary(cache)}`);
        }
        for (let t = half; t < steps; t++) {
          cache.append(stream.keys[t]!, stream.values[t]!);
          twin.append(stream.keys[t]!, stream.values[t]!);
          const a = cache.attend(stream.queries[t]!, new Float32Array(s));
          const b = twin.attend(stream.queries[t]!, new Float32Array(s));
          assert(sameArrays(a, b), `step ${t}: outputs differ from a twin that never saw the rejected calls`);
        }
      },
    },
    {
      name: 'is deterministic for a fixed seed, and reset() restores a fresh cache',
      run() {
        const a = create();
        const b = create();
        const oa = replay(a);
        const ob = replay(b);
        for (let t = 0; t < steps; t++) assert(sameArrays(oa[t]!, ob[t]!), `step ${t}: two caches with one spec differ`);
        a.reset();
        assert(a.seen === 0 && a.stored === 0, `after reset: seen=${a.seen} stored=${a.stored}`);
        expectKvError(() => a.attend(stream.queries[0]!, out), KvErrorCode.EmptyCache, 'query after reset');
        const oc = replay(a);
        for (let t = 0; t < steps; t++) assert(sameArrays(oa[t]!, oc[t]!), `step ${t}: replay after reset differs`);
      },
    },
    {
      name: 'prefill of a block counts every token and answers like appends',
      run() {
        const cache = create();
        const n = Math.min(steps, 48);
        const keys = new Float32Array(n * d);
        const values = new Float32Array(n * s);
        for (let t = 0; t < n; t++) {
          keys.set(stream.keys[t]!, t * d);
          values.set(stream.values[t]!, t * s);
        }
        const w = Math.min(8, n);
        const queries = new Float32Array(w * d);
        for (let t = 0; t < w; t++) queries.set(stream.queries[n - w + t]!, t * d);
        cache.prefill(keys, values, queries);
        assert(cache.seen === n, `prefill of ${n} tokens: seen is ${cache.seen}`);
        assert(cache.stored <= cache.capacity, `after prefill: stored ${cache.stored} exceeds ${cache.capacity}`);
        cache.attend(stream.queries[n - 1]!, out);
        for (const v of out) assert(Number.isFinite(v), 'output after prefill is not finite');
      },
    },
    {
      name: 'stays finite (or refuses with a typed error) for keys and queries of norm 1e4',
      run() {
        const cache = create();
        const rng = new Rng(seed + 7);
        const big = (): Float32Array => {
          const v = rng.fillGaussian(new Float32Array(d));
          let n2 = 0;
          for (const x of v) n2 += x * x;
          const f = 1e4 / Math.sqrt(n2);
          for (let j = 0; j < d; j++) v[j]! *= f;
          return v;
        };
        try {
          for (let t = 0; t < Math.min(steps, 40); t++) {
            cache.append(big(), stream.values[t]!);
            cache.attend(big(), out);
            for (const v of out) assert(Number.isFinite(v), `step ${t}: output ${v} at norm 1e4`);
          }
        } catch (e) {
          if (e instanceof ConformanceError) throw e;
          assert(isKvError(e, KvErrorCode.AssumptionViolated), `large norms: unexpected ${String(e)}`);
        }
      },
    },
  ];

  checks.push(...snapshotChecks(registry, spec, stream));

  const exactSpec = options.exactSpec;
  if (exactSpec) {
    const tol = options.exactTolerance ?? 1e-5;
    checks.push(
      {
        name: 'equals exact attention when its budget covers the stream',
        run() {
          const cache = create(exactSpec);
          const exact = new ExactCache({ ...exactSpec, policy: 'exact' });
          const want = new Float32Array(s);
          for (let t = 0; t < steps; t++) {
            cache.append(stream.keys[t]!, stream.values[t]!);
            exact.append(stream.keys[t]!, stream.values[t]!);
            cache.attend(stream.queries[t]!, out);
            exact.attend(stream.queries[t]!, want);
            for (let j = 0; j < s; j++) {
              assert(Math.abs(out[j]! - want[j]!) <= tol * (1 + Math.abs(want[j]!)), `step ${t}: ${out[j]} vs exact ${want[j]}`);
            }
          }
        },
      },
      {
        name: 'kernel sums of two halves of the stream merge to the sums of the whole',
        run() {
          const whole = create(exactSpec);
          const first = create(exactSpec);
          const second = create(exactSpec);
          const half = Math.floor(steps / 2);
          for (let t = 0; t < steps; t++) {
            whole.append(stream.keys[t]!, stream.values[t]!);
            (t < half ? first : second).append(stream.keys[t]!, stream.values[t]!);
          }
          const q = stream.queries[steps - 1]!;
          const a: KernelSums = first.sums(q, createKernelSums(s));
          const b = second.sums(q, createKernelSums(s));
          const ab = mergeSums(mergeSums(createKernelSums(s), a), b);
          const ba = mergeSums(mergeSums(createKernelSums(s), b), a);
          const w = whole.sums(q, createKernelSums(s));
          const zw = w.z * Math.exp(w.m);
          for (const merged of [ab, ba]) {
            const zm = merged.z * Math.exp(merged.m);
            assert(Math.abs(zm - zw) <= tol * Math.abs(zw), `merged Z ${zm} vs whole ${zw}`);
            for (let j = 0; j < s; j++) {
              const nm = merged.n[j]! * Math.exp(merged.m);
              const nw = w.n[j]! * Math.exp(w.m);
              assert(Math.abs(nm - nw) <= tol * (zw + Math.abs(nw)), `merged N[${j}] ${nm} vs whole ${nw}`);
            }
          }
        },
      },
    );
  }
  return checks;
}
