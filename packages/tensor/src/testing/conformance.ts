import { budgetBytes, createKernelSums, isByteBudget, isKvError, KvErrorCode, type PolicySpec, Rng, stateBytes, sumsToOutput } from '@kv/core';
import { type ConformanceCheck, ConformanceError } from '@kv/core/testing';
import type { TensorCacheDefinition, TensorHeadCache } from '../contract.js';
import { tensorReferenceSums } from '../reference.js';
import { createTensorCache, tensorCaches } from '../registry.js';

/** Options of {@link tensorConformanceChecks}. */
export interface TensorConformanceOptions {
  /** The spec under test. */
  readonly spec: PolicySpec;
  /** Layouts `spec.policy` is looked up in (default {@link tensorCaches}). */
  readonly definitions?: readonly TensorCacheDefinition[];
  /** Tokens in the random stream (default 40; the reference costs O(n²) per query). */
  readonly steps?: number;
  /** Whether the cache must equal the definition ({@link tensorReferenceSums}) at every step. */
  readonly exact?: boolean;
  /** Relative tolerance of the exactness check (default 1e-5). */
  readonly exactTolerance?: number;
  /** Stream seed (default 1). */
  readonly seed?: number;
  /** Typical key and query norm of the stream (default 2). */
  readonly norm?: number;
}

interface TensorStream {
  keys1: Float32Array[];
  keys2: Float32Array[];
  values1: Float32Array[];
  values2: Float32Array[];
  queries: Float32Array[];
}

function assert(cond: boolean, message: string): asserts cond {
  if (!cond) throw new ConformanceError(message);
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


function snapshot(cache: TensorHeadCache): string {
  return JSON.stringify({ seen: cache.seen, stored: cache.stored, bytes: cache.bytes, capacity: cache.capacity });
}

function sameArrays(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

function rows(list: Float32Array[], count: number, width: number): Float32Array {
  const out = new Float32Array(count * width);
  for (let t = 0; t < count; t++) out.set(list[t]!, t * width);
  return out;
}

/**
 * The conformance suite of tensor caches, on the ideas of core's `conformanceChecks`: finite
 * answers equal to N/Z of the sums; `seen` counts and `stored ≤ capacity`; `bytes` equals the
 * arrays of its state and stays within a byte budget (read at (2d, 2s): a tensor token is two
 * float32 rows of each); a state loaded into a fresh cache continues bit for bit; bad input (wrong lengths, NaN/±Infinity in any of k1, k2, v1, v2, q, ragged
 * prefills, an empty cache) throws typed `KvError`s and leaves the state unchanged; caller buffers
 * are copied; determinism; `reset()` restores a fresh cache; prefill equals appends; large norms
 * stay finite or are refused with `AssumptionViolatedError`; and, with `exact`, equality with the
 * definition at every step (outputs and log Z). Returns runner-agnostic checks.
 *
 * @param options - Spec, layouts and stream options.
 * @returns The checks.
 * @throws `KvError` from `createTensorCache` when the spec itself is invalid.
 * @example
 * ```ts
 * import { describe, it } from 'vitest';
 * import { tensorConformanceChecks } from '@kv/tensor/testing';
 * describe('four-cache', () => {
 *   for (const c of tensorConformanceChecks({ spec: { policy: 'tensor-four-cache', keyDim: 8, valueDim: 4 }, exact: true })) it(c.name, c.run);
 * });
 * ```
 */
export function tensorConformanceChecks(options: TensorConformanceOptions): ConformanceCheck[] {
  const { spec } = options;
  const definitions = options.definitions ?? tensorCaches;
  const steps = options.steps ?? 40;
  const d = spec.keyDim;
  const s = spec.valueDim;
  const seed = options.seed ?? 1;
  const norm = options.norm ?? 2;
  const create = (): TensorHeadCache => createTensorCache(spec, definitions);
  create();
  const rng = new Rng(seed);
  const scale = norm / Math.sqrt(d) / 1.5;
  const stream: TensorStream = { keys1: [], keys2: [], values1: [], values2: [], queries: [] };
  for (let t = 0; t < steps; t++) {
    stream.keys1.push(rng.fillGaussian(new Float32Array(d), scale));
    stream.keys2.push(rng.fillGaussian(new Float32Array(d), scale));
    stream.values1.push(rng.fillGaussian(new Float32Array(s)));
    stream.values2.push(rng.fillGaussian(new Float32Array(s)));
    stream.queries.push(rng.fillGaussian(new Float32Array(d), scale));
  }
  const append = (cache: TensorHeadCache, t: number): void =>
    cache.append(stream.keys1[t]!, stream.keys2[t]!, stream.values1[t]!, stream.values2[t]!);
  const replay = (cache: TensorHeadCache, from = 0, to = steps): Float32Array[] => {
    const outputs: Float32Array[] = [];
    for (let t = from; t < to; t++) {
      append(cache, t);
      outputs.push(cache.attend(stream.queries[t]!, new Float32Array(s)));
    }
    return outputs;
  };
  const out = new Float32Array(s);

  const checks: ConformanceCheck[] = [
    {
      name: 'answers with finite outputs, equal to N/Z of its kernel sums',
      run() {
        const cache = create();
        const sums = createKernelSums(s);
        const fromSums = new Float32Array(s);
        for (let t = 0; t < steps; t++) {
          append(cache, t);
          cache.attend(stream.queries[t]!, out);
          sumsToOutput(cache.sums(stream.queries[t]!, sums), fromSums);
          for (let j = 0; j < s; j++) {
            assert(Number.isFinite(out[j]!), `step ${t}: output ${out[j]} is not finite`);
            assert(Math.abs(out[j]! - fromSums[j]!) <= 1e-6 * (1 + Math.abs(fromSums[j]!)), `step ${t}: attend ≠ N/Z at ${j}`);
          }
        }
      },
    },
    {
      name: 'counts tokens seen and never stores more than its capacity',
      run() {
        const cache = create();
        assert(cache.seen === 0, `fresh cache reports seen=${cache.seen}`);
        for (let t = 0; t < steps; t++) {
          append(cache, t);
          assert(cache.seen === t + 1, `step ${t}: seen is ${cache.seen}, expected ${t + 1}`);
          assert(Number.isInteger(cache.stored) && cache.stored >= 0, `step ${t}: stored ${cache.stored} is not a count`);
          assert(cache.stored <= cache.capacity, `step ${t}: stored ${cache.stored} exceeds capacity ${cache.capacity}`);
        }
      },
    },
    {
      name: 'reports as bytes exactly the arrays of its state, and its byte budget bounds them',
      run() {
        const cache = create();
        const held = (): number => stateBytes(cache.state());
        assert(cache.bytes === held(), `fresh: bytes ${cache.bytes} ≠ ${held()} held in its state`);
        for (let t = 0; t < steps; t++) {
          append(cache, t);
          assert(cache.bytes === held(), `step ${t}: bytes ${cache.bytes} ≠ ${held()} held in its state`);
          assert(cache.bytes > 0, `step ${t}: a non-empty cache reports 0 bytes`);
          if (isByteBudget(spec.budget)) {
            const limit = budgetBytes(spec.budget, cache.seen, 2 * d, 2 * s);
            assert(cache.bytes <= limit, `step ${t}: holds ${cache.bytes} bytes, over its byte budget of ${limit}`);
          }
        }
      },
    },
    {
      name: 'a state loaded into a fresh cache continues bit for bit',
      run() {
        for (const at of [0, Math.floor(steps / 3), steps - 2]) {
          const cache = create();
          replay(cache, 0, at + 1);
          const copy = create();
          copy.loadState(cache.state());
          assert(copy.seen === cache.seen && copy.bytes === cache.bytes, `after loading at step ${at}: seen ${copy.seen}, bytes ${copy.bytes} vs ${cache.seen}, ${cache.bytes}`);
          const a = replay(cache, at + 1, steps);
          const b = replay(copy, at + 1, steps);
          for (let t = 0; t < a.length; t++) assert(sameArrays(a[t]!, b[t]!), `step ${at + 1 + t}: the loaded cache answers differently`);
          assert(copy.bytes === cache.bytes, `bytes ${copy.bytes} vs ${cache.bytes} at the end`);
        }
      },
    },
    {
      name: 'rejects bad input with typed errors and leaves its state unchanged',
      run() {
        const cache = create();
        const twin = create();
        expectKvError(() => cache.attend(stream.queries[0]!, out), KvErrorCode.EmptyCache, 'query on an empty cache');
        expectKvError(() => cache.sums(stream.queries[0]!, createKernelSums(s)), KvErrorCode.EmptyCache, 'sums on an empty cache');
        const half = Math.floor(steps / 2);
        replay(cache, 0, half);
        replay(twin, 0, half);
        const before = snapshot(cache);
        const k = stream.keys1[0]!;
        const v = stream.values1[0]!;
        const q = stream.queries[0]!;
        const poisoned = (x: Float32Array, at: number, value: number): Float32Array => {
          const y = x.slice();
          y[at] = value;
          return y;
        };
        const twoRows = (width: number, extra = 0) => new Float32Array(2 * width + extra);
        const badLastRow = new Float32Array(2 * s);
        badLastRow[2 * s - 1] = NaN;
        const bad: [() => void, KvErrorCode, string][] = [
          [() => cache.append(new Float32Array(d + 1), k, v, v), KvErrorCode.DimensionMismatch, 'key1 of length d+1'],
          [() => cache.append(k, new Float32Array(d + 2), v, v), KvErrorCode.DimensionMismatch, 'key2 of length d+2'],
          [() => cache.append(k, k, new Float32Array(s + 1), v), KvErrorCode.DimensionMismatch, 'value1 of length s+1'],
          [() => cache.append(k, k, v, new Float32Array(Math.max(0, s - 1))), KvErrorCode.DimensionMismatch, 'value2 of length s-1'],
          [() => cache.append(poisoned(k, d - 1, NaN), k, v, v), KvErrorCode.NonFiniteInput, 'NaN in key1'],
          [() => cache.append(k, poisoned(k, 0, Infinity), v, v), KvErrorCode.NonFiniteInput, 'Infinity in key2'],
          [() => cache.append(k, k, poisoned(v, 0, -Infinity), v), KvErrorCode.NonFiniteInput, '-Infinity in value1'],
          [() => cache.append(k, k, v, poisoned(v, s - 1, NaN)), KvErrorCode.NonFiniteInput, 'NaN in value2'],
          [() => cache.attend(new Float32Array(d + 1), out), KvErrorCode.DimensionMismatch, 'query of length d+1'],
          [() => cache.attend(poisoned(q, 0, NaN), out), KvErrorCode.NonFiniteInput, 'NaN in a query'],
          [() => cache.attend(q, new Float32Array(s + 1)), KvErrorCode.DimensionMismatch, 'output of length s+1'],
          [() => cache.sums(q, createKernelSums(s + 1)), KvErrorCode.DimensionMismatch, 'sums of width s+1'],
          [() => cache.prefill(twoRows(d, 1), twoRows(d), twoRows(s), twoRows(s)), KvErrorCode.DimensionMismatch, 'ragged prefill keys1'],
          [() => cache.prefill(twoRows(d), new Float32Array(3 * d), twoRows(s), twoRows(s)), KvErrorCode.DimensionMismatch, 'prefill keys2 of another count'],
          [() => cache.prefill(twoRows(d), twoRows(d), twoRows(s), new Float32Array(s)), KvErrorCode.DimensionMismatch, 'prefill values2 of another count'],
          [() => cache.prefill(twoRows(d), twoRows(d), badLastRow, twoRows(s)), KvErrorCode.NonFiniteInput, 'NaN in the last prefill row'],
        ];
        for (const [fn, code, what] of bad) {
          expectKvError(fn, code, what);
          assert(snapshot(cache) === before, `${what}: state changed from ${before} to ${snapshot(cache)}`);
        }
        const a = replay(cache, half, steps);
        const b = replay(twin, half, steps);
        for (let t = 0; t < a.length; t++) {
          assert(sameArrays(a[t]!, b[t]!), `step ${half + t}: outputs differ from a twin that never saw the rejected calls`);
        }
      },
    },
    {
      name: 'copies what it keeps: callers may overwrite their buffers',
      run() {
        const cache = create();
        const twin = create();
        const k1 = new Float32Array(d);
        const k2 = new Float32Array(d);
        const v1 = new Float32Array(s);
        const v2 = new Float32Array(s);
        for (let t = 0; t < steps; t++) {
          k1.set(stream.keys1[t]!);
          k2.set(stream.keys2[t]!);
          v1.set(stream.values1[t]!);
          v2.set(stream.values2[t]!);
          cache.append(k1, k2, v1, v2);
          append(twin, t);
        }
        for (const x of [k1, k2, v1, v2]) x.fill(7);
        const a = cache.attend(stream.queries[0]!, new Float32Array(s));
        const b = twin.attend(stream.queries[0]!, new Float32Array(s));
        assert(sameArrays(a, b), 'overwriting the appended buffers changed the answer');
      },
    },
    {
      name: 'is deterministic for a fixed spec, and reset() restores a fresh cache',
      run() {
        const a = create();
        const b = create();
        const fresh = create();
        const oa = replay(a);
        const ob = replay(b);
        for (let t = 0; t < steps; t++) assert(sameArrays(oa[t]!, ob[t]!), `step ${t}: two caches with one spec differ`);
        a.reset();
        assert(a.seen === 0, `after reset: seen=${a.seen}`);
        assert(snapshot(a) === snapshot(fresh), `after reset: ${snapshot(a)}, fresh: ${snapshot(fresh)}`);
        expectKvError(() => a.attend(stream.queries[0]!, out), KvErrorCode.EmptyCache, 'query after reset');
        const oc = replay(a);
        for (let t = 0; t < steps; t++) assert(sameArrays(oa[t]!, oc[t]!), `step ${t}: replay after reset differs`);
      },
    },
    {
      name: 'prefill of a block counts every token and answers exactly like appends',
      run() {
        const cache = create();
        const twin = create();
        cache.prefill(rows(stream.keys1, steps, d), rows(stream.keys2, steps, d), rows(stream.values1, steps, s), rows(stream.values2, steps, s));
        for (let t = 0; t < steps; t++) append(twin, t);
        assert(cache.seen === steps, `prefill of ${steps} tokens: seen is ${cache.seen}`);
        assert(snapshot(cache) === snapshot(twin), `prefill ${snapshot(cache)} vs appends ${snapshot(twin)}`);
        const q = stream.queries[steps - 1]!;
        assert(sameArrays(cache.attend(q, new Float32Array(s)), twin.attend(q, new Float32Array(s))), 'prefill answers differ from appends');
      },
    },
    {
      name: 'stays finite (or refuses with a typed error) for keys and queries of norm 1e4',
      run() {
        const cache = create();
        const big = new Rng(seed + 7);
        const vec = (): Float32Array => {
          const x = big.fillGaussian(new Float32Array(d));
          let n2 = 0;
          for (const e of x) n2 += e * e;
          const f = 1e4 / Math.sqrt(n2);
          for (let j = 0; j < d; j++) x[j]! *= f;
          return x;
        };
        for (let t = 0; t < Math.min(steps, 24); t++) {
          cache.append(vec(), vec(), stream.values1[t]!, stream.values2[t]!);
          try {
            cache.attend(vec(), out);
          } catch (e) {
            assert(isKvError(e, KvErrorCode.AssumptionViolated), `large norms: unexpected ${String(e)}`);
            continue;
          }
          for (const x of out) assert(Number.isFinite(x), `step ${t}: output ${x} at norm 1e4`);
        }
      },
    },
  ];

  if (options.exact) {
    const tol = options.exactTolerance ?? 1e-5;
    checks.push({
      name: 'equals the definition (all ordered pairs) at every step: outputs and log Z',
      run() {
        const cache = create();
        const want = createKernelSums(s);
        const got = createKernelSums(s);
        const wantOut = new Float64Array(s);
        const k1 = rows(stream.keys1, steps, d);
        const k2 = rows(stream.keys2, steps, d);
        const v1 = rows(stream.values1, steps, s);
        const v2 = rows(stream.values2, steps, s);
        for (let t = 0; t < steps; t++) {
          append(cache, t);
          const q = stream.queries[t]!;
          tensorReferenceSums(q, k1, k2, v1, v2, t + 1, cache.tau, want);
          sumsToOutput(want, wantOut);
          cache.attend(q, out);
          cache.sums(q, got);
          for (let j = 0; j < s; j++) {
            assert(Math.abs(out[j]! - wantOut[j]!) <= tol * (1 + Math.abs(wantOut[j]!)), `step ${t}: out[${j}] ${out[j]} vs definition ${wantOut[j]}`);
          }
          const lw = want.m + Math.log(want.z);
          const lg = got.m + Math.log(got.z);
          assert(Math.abs(lg - lw) <= tol * (1 + Math.abs(lw)), `step ${t}: log Z ${lg} vs definition ${lw}`);
        }
      },
    });
  }
  return checks;
}
