import { budgetBytes, isByteBudget } from '../budget.js';
import type { HeadCache, PolicyRegistryLike, PolicySpec } from '../contract.js';
import { isKvError, KvErrorCode } from '../errors.js';
import { Rng } from '../rng.js';
import { restore, snapshot } from '../snapshot/snapshot.js';
import { stateBytes } from '../state.js';
import type { ConformanceCheck } from './conformance.js';
import { assert, ConformanceError, makeStream, sameArrays, type Stream } from './shared.js';

/** Largest snapshot header (frame, JSON spec and array directory, alignment) the suite accepts. */
const HEADER_LIMIT = 2048;

/**
 * Options of {@link checkSnapshotRoundTrip}.
 *
 * @example
 * ```ts
 * import type { RoundTripOptions } from '@kv/core/testing';
 * const o: RoundTripOptions = { steps: 64, at: 20, seed: 3 };
 * ```
 */
export interface RoundTripOptions {
  /** Tokens in the stream (default 96). */
  readonly steps?: number;
  /** Step after which the snapshot is taken (default steps / 2). */
  readonly at?: number;
  /** Stream seed (default 1). */
  readonly seed?: number;
  /** Largest key/query norm (default 4). */
  readonly norm?: number;
}

/**
 * Runs a random stream through a cache, snapshots it after step `at`, restores it through the
 * registry, and continues both with the same tokens and queries: every output and `bytes` must
 * agree bit for bit, and the snapshot must be `bytes` plus a header of at most 2 KiB.
 *
 * @param registry - Registry holding the policy.
 * @param spec - The spec under test.
 * @param options - Stream length, snapshot step, seed.
 * @throws {@link ConformanceError} on any difference; `SnapshotError` (from `@kv/core`) when the
 *   policy's own snapshot does not restore (its `loadState` refuses its `state()`).
 * @example
 * ```ts
 * import { PolicyRegistry, exactPolicy } from '@kv/core';
 * import { checkSnapshotRoundTrip } from '@kv/core/testing';
 * checkSnapshotRoundTrip(new PolicyRegistry().register(exactPolicy), { policy: 'exact', keyDim: 4, valueDim: 4 }, { at: 10 });
 * ```
 */
export function checkSnapshotRoundTrip(registry: PolicyRegistryLike, spec: PolicySpec, options: RoundTripOptions = {}): void {
  const steps = options.steps ?? 96;
  const stream = makeStream(steps, spec.keyDim, spec.valueDim, options.seed ?? 1, options.norm ?? 4);
  roundTrip(registry, spec, stream, options.at ?? Math.floor(steps / 2));
}

function roundTrip(registry: PolicyRegistryLike, spec: PolicySpec, stream: Stream, at: number): void {
  const s = spec.valueDim;
  const steps = stream.keys.length;
  const cache = registry.create(spec);
  const outA = new Float32Array(s);
  const outB = new Float32Array(s);
  for (let t = 0; t <= at && t < steps; t++) {
    cache.append(stream.keys[t]!, stream.values[t]!);
    cache.attend(stream.queries[t]!, outA);
  }
  const bytes = snapshot(cache);
  const header = bytes.length - cache.bytes;
  assert(header >= 0 && header <= HEADER_LIMIT, `snapshot of ${bytes.length} bytes for ${cache.bytes} bytes held: a header of ${header} (limit ${HEADER_LIMIT})`);
  const copy = restore(bytes, registry, { keyDim: spec.keyDim, valueDim: spec.valueDim, policy: spec.policy });
  assert(copy.seen === cache.seen && copy.bytes === cache.bytes && copy.stored === cache.stored, `restored cache reports seen ${copy.seen}, bytes ${copy.bytes}, stored ${copy.stored}; the saved one ${cache.seen}, ${cache.bytes}, ${cache.stored}`);
  for (let t = at + 1; t < steps; t++) {
    cache.append(stream.keys[t]!, stream.values[t]!);
    copy.append(stream.keys[t]!, stream.values[t]!);
    cache.attend(stream.queries[t]!, outA);
    copy.attend(stream.queries[t]!, outB);
    assert(sameArrays(outA, outB), `step ${t} after a snapshot at ${at}: the restored cache answers differently`);
    assert(cache.bytes === copy.bytes, `step ${t}: bytes ${copy.bytes} after restore vs ${cache.bytes}`);
  }
}

/**
 * Checks the byte budget of a spec along a random stream: after every `append`, `bytes` is at
 * most the budget at that `seen`, `bytes` equals the state's bytes, and the answer is finite.
 *
 * @param registry - Registry holding the policy.
 * @param spec - A spec with a `{bytes}` or `{fraction}` budget.
 * @param options - Stream length and seed.
 * @throws {@link ConformanceError} when a bound is broken.
 * @example
 * ```ts
 * import { PolicyRegistry, exactPolicy } from '@kv/core';
 * import { checkByteBudget } from '@kv/core/testing';
 * // exact has no budget: any spec with a byte budget of a budgeted policy goes here
 * checkByteBudget(new PolicyRegistry().register(exactPolicy), { policy: 'exact', keyDim: 4, valueDim: 4 }, { steps: 8 });
 * ```
 */
export function checkByteBudget(registry: PolicyRegistryLike, spec: PolicySpec, options: { steps?: number; seed?: number; norm?: number } = {}): void {
  const steps = options.steps ?? 96;
  const d = spec.keyDim;
  const s = spec.valueDim;
  const stream = makeStream(steps, d, s, options.seed ?? 1, options.norm ?? 4);
  const cache = registry.create(spec);
  const out = new Float32Array(s);
  for (let t = 0; t < steps; t++) {
    cache.append(stream.keys[t]!, stream.values[t]!);
    const held = cache.bytes;
    if (isByteBudget(spec.budget)) {
      const limit = budgetBytes(spec.budget, cache.seen, d, s);
      assert(held <= limit, `${spec.policy} ${JSON.stringify(spec.budget)}: step ${t} holds ${held} bytes, over the budget of ${limit}`);
    }
    assert(held === stateBytes(cache.state()), `${spec.policy}: step ${t} reports ${held} bytes, its state holds ${stateBytes(cache.state())}`);
    cache.attend(stream.queries[t]!, out);
    for (const v of out) assert(Number.isFinite(v), `${spec.policy} ${JSON.stringify(spec.budget)}: step ${t} answers ${v}`);
  }
}

function expectSnapshotError(fn: () => unknown, what: string): void {
  try {
    fn();
  } catch (e) {
    assert(isKvError(e, KvErrorCode.InvalidSnapshot), `${what}: expected a SnapshotError, got ${String(e)}`);
    return;
  }
  throw new ConformanceError(`${what}: the damaged snapshot was accepted`);
}

/**
 * The snapshot checks of the conformance suite (part of {@link conformanceChecks}).
 * @internal
 */
export function snapshotChecks(registry: PolicyRegistryLike, spec: PolicySpec, stream: Stream): ConformanceCheck[] {
  const steps = stream.keys.length;
  const fill = (cache: HeadCache, upTo: number): HeadCache => {
    const out = new Float32Array(spec.valueDim);
    for (let t = 0; t < upTo; t++) {
      cache.append(stream.keys[t]!, stream.values[t]!);
      cache.attend(stream.queries[t]!, out);
    }
    return cache;
  };
  return [
    {
      name: 'continues bit for bit after a snapshot and restore, at any step',
      run() {
        const rng = new Rng(steps * 31 + spec.keyDim);
        for (const at of [0, Math.floor(steps / 2), steps - 2, rng.int(steps - 1)]) roundTrip(registry, spec, stream, Math.max(0, at));
        // an empty cache too
        const empty = restore(snapshot(registry.create(spec)), registry);
        assert(empty.seen === 0 && empty.bytes === registry.create(spec).bytes, 'a restored empty cache is not empty');
      },
    },
    {
      name: 'refuses truncated, corrupted and mismatched snapshots with a SnapshotError',
      run() {
        const bytes = snapshot(fill(registry.create(spec), Math.min(steps, 40)));
        const rng = new Rng(bytes.length);
        const positions = new Set<number>([0, 7, 8, 12, 16, 24, 31, 32, bytes.length - 1, bytes.length - 4]);
        while (positions.size < Math.min(bytes.length, 48)) positions.add(rng.int(bytes.length));
        for (const at of positions) {
          const bad = bytes.slice();
          bad[at] = bad[at]! ^ (1 + rng.int(255));
          expectSnapshotError(() => restore(bad, registry), `byte ${at} of ${bytes.length} changed`);
        }
        for (const cut of [0, 1, 31, 35, Math.floor(bytes.length / 2), bytes.length - 1]) {
          expectSnapshotError(() => restore(bytes.subarray(0, cut), registry), `cut to ${cut} of ${bytes.length} bytes`);
        }
        expectSnapshotError(() => restore(bytes, registry, { keyDim: spec.keyDim + 1 }), 'restored for another key dimension');
      },
    },
  ];
}
