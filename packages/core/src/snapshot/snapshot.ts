import { ModelCache } from '../container.js';
import type { HeadCache, PolicyRegistryLike, PolicySpec } from '../contract.js';
import { isKvError, SnapshotError } from '../errors.js';
import { decodeSnapshot, encodeSnapshot } from './format.js';

/**
 * Saves a cache: its spec (policy, params, dimensions, budget, seed, τ) and the state it needs to
 * continue exactly. The result is `cache.bytes` plus a header of a few hundred bytes.
 *
 * @param cache - Any cache.
 * @returns The snapshot (format: {@link encodeSnapshot}).
 * @example
 * ```ts
 * import { ExactCache, PolicyRegistry, exactPolicy, restore, snapshot } from '@kv/core';
 * const cache = new ExactCache({ policy: 'exact', keyDim: 2, valueDim: 2 });
 * cache.append(new Float32Array([1, 0]), new Float32Array([0, 1]));
 * const copy = restore(snapshot(cache), new PolicyRegistry().register(exactPolicy));
 * copy.seen; // 1
 * ```
 */
export function snapshot(cache: HeadCache): Uint8Array {
  return encodeSnapshot({ kind: 'head', spec: cache.spec }, [cache.state()]);
}

/**
 * What a restored snapshot must match: the caller's dimensions (and policy, when it matters).
 *
 * @example
 * ```ts
 * import type { SnapshotExpectation } from '@kv/core';
 * const expect: SnapshotExpectation = { keyDim: 64, valueDim: 64 };
 * ```
 */
export interface SnapshotExpectation {
  /** Key dimension the caller uses. */
  readonly keyDim?: number;
  /** Value dimension the caller uses. */
  readonly valueDim?: number;
  /** Policy the caller expects. */
  readonly policy?: string;
}

function checkSpec(spec: unknown, where: string): PolicySpec {
  if (typeof spec !== 'object' || spec === null || typeof (spec as PolicySpec).policy !== 'string') {
    throw new SnapshotError('format', `${where}: no policy spec in the header`);
  }
  return spec as PolicySpec;
}

function expectDims(spec: PolicySpec, expected: SnapshotExpectation | undefined, where: string): void {
  if (!expected) return;
  for (const field of ['keyDim', 'valueDim', 'policy'] as const) {
    const want = expected[field];
    if (want !== undefined && spec[field] !== want) {
      throw new SnapshotError('mismatch', `${where} has ${field} ${JSON.stringify(spec[field])}, the caller expects ${JSON.stringify(want)}`);
    }
  }
}

// A fresh cache loads the state; anything but a typed kv error from a policy's loader is a
// malformed file, and the cache is dropped, so no half-built cache ever escapes.
function build(registry: PolicyRegistryLike, spec: PolicySpec, load: (cache: HeadCache) => void): HeadCache {
  const cache = registry.create(spec);
  try {
    load(cache);
  } catch (e) {
    if (isKvError(e)) throw e;
    throw new SnapshotError('format', `${spec.policy}: the state does not load (${(e as Error).message})`);
  }
  return cache;
}

/**
 * Restores a cache saved by {@link snapshot}: validates the whole file, creates the cache from
 * the saved spec through `registry` (so every check a spec gets at creation guards it too), then
 * loads its state. A refused file builds nothing.
 *
 * @param bytes - The snapshot.
 * @param registry - A registry holding the saved policy (and its parts).
 * @param expected - Dimensions (and policy) the caller needs.
 * @returns The restored cache, which continues exactly as the saved one would.
 * @throws `SnapshotError` for a truncated, corrupt, newer or mismatched file; `UnknownPolicyError`
 *   when the registry lacks the saved policy; any error of `registry.create`.
 * @example
 * ```ts
 * import { ExactCache, PolicyRegistry, exactPolicy, restore, snapshot } from '@kv/core';
 * const cache = new ExactCache({ policy: 'exact', keyDim: 4, valueDim: 4 });
 * cache.append(new Float32Array(4), new Float32Array(4));
 * const back = restore(snapshot(cache), new PolicyRegistry().register(exactPolicy), { keyDim: 4, valueDim: 4 });
 * ```
 */
export function restore(bytes: Uint8Array, registry: PolicyRegistryLike, expected?: SnapshotExpectation): HeadCache {
  const { header, states } = decodeSnapshot(bytes);
  if (header['kind'] !== 'head' || states.length !== 1) throw new SnapshotError('mismatch', `a ${String(header['kind'])} snapshot, expected one head cache`);
  const spec = checkSpec(header['spec'], 'snapshot');
  expectDims(spec, expected, 'the snapshot');
  return build(registry, spec, (c) => c.loadState(states[0]!));
}

/**
 * Saves every head of a model cache in one file (shape, each head's spec and state).
 *
 * @param model - The model-level cache.
 * @returns The snapshot.
 * @example
 * ```ts
 * import { ModelCache, PolicyRegistry, exactPolicy, restoreModel, snapshotModel } from '@kv/core';
 * const registry = new PolicyRegistry().register(exactPolicy);
 * const cache = new ModelCache({ layers: 2, kvHeads: 1, keyDim: 4, valueDim: 4, policy: { policy: 'exact' }, registry });
 * cache.append(0, new Float32Array(4), new Float32Array(4));
 * const back = restoreModel(snapshotModel(cache), registry);
 * ```
 */
export function snapshotModel(model: ModelCache): Uint8Array {
  const heads: HeadCache[] = [];
  // cannot throw: (l, h) stays inside the model's own shape
  for (let l = 0; l < model.layers; l++) for (let h = 0; h < model.kvHeads; h++) heads.push(model.head(l, h));
  const shape = { layers: model.layers, kvHeads: model.kvHeads, queryHeads: model.queryHeads, keyDim: model.keyDim, valueDim: model.valueDim };
  return encodeSnapshot({ kind: 'model', shape, specs: heads.map((c) => c.spec) }, heads.map((c) => c.state()));
}

/**
 * The shape a restored model cache must have (any field left out is not checked).
 *
 * @example
 * ```ts
 * import type { ModelShape } from '@kv/core';
 * const shape: ModelShape = { layers: 4, kvHeads: 3, queryHeads: 3, keyDim: 64, valueDim: 64 };
 * ```
 */
export interface ModelShape {
  /** Layers. */
  readonly layers?: number;
  /** KV heads per layer. */
  readonly kvHeads?: number;
  /** Query heads per layer. */
  readonly queryHeads?: number;
  /** Key dimension. */
  readonly keyDim?: number;
  /** Value dimension. */
  readonly valueDim?: number;
}

/**
 * Restores a model cache saved by {@link snapshotModel}; the whole file is validated and every
 * head is built and loaded before the cache is returned.
 *
 * @param bytes - The snapshot.
 * @param registry - A registry holding every saved policy.
 * @param expected - The caller's model shape.
 * @returns The restored model cache.
 * @throws `SnapshotError` for a truncated, corrupt, newer or mismatched file; `UnknownPolicyError`
 *   when the registry lacks a saved policy; `InvalidParamsError` when the saved shape is not one a
 *   model cache can have (query heads not a multiple of KV heads).
 * @example
 * ```ts
 * import { ModelCache, PolicyRegistry, exactPolicy, restoreModel, snapshotModel } from '@kv/core';
 * const registry = new PolicyRegistry().register(exactPolicy);
 * const cache = new ModelCache({ layers: 1, kvHeads: 2, keyDim: 4, valueDim: 4, policy: { policy: 'exact' }, registry });
 * const back = restoreModel(snapshotModel(cache), registry, { layers: 1, kvHeads: 2 });
 * ```
 */
export function restoreModel(bytes: Uint8Array, registry: PolicyRegistryLike, expected?: ModelShape): ModelCache {
  const { header, states } = decodeSnapshot(bytes);
  if (header['kind'] !== 'model') throw new SnapshotError('mismatch', `a ${String(header['kind'])} snapshot, expected a model cache`);
  const shape = header['shape'] as Record<string, unknown> | undefined;
  const specs = header['specs'];
  const fields = ['layers', 'kvHeads', 'queryHeads', 'keyDim', 'valueDim'] as const;
  if (typeof shape !== 'object' || shape === null || !fields.every((f) => Number.isSafeInteger(shape[f]) && (shape[f] as number) >= 1)) {
    throw new SnapshotError('format', 'the header has no model shape');
  }
  const dims = shape as Record<(typeof fields)[number], number>;
  for (const f of fields) {
    if (expected?.[f] !== undefined && dims[f] !== expected[f]) {
      throw new SnapshotError('mismatch', `the snapshot has ${f} ${dims[f]}, the caller expects ${expected[f]}`);
    }
  }
  const count = dims.layers * dims.kvHeads;
  if (!Array.isArray(specs) || specs.length !== count || states.length !== count) {
    throw new SnapshotError('format', `the header lists ${Array.isArray(specs) ? specs.length : 0} specs and ${states.length} states for ${count} heads`);
  }
  const heads = specs.map((raw, i) => {
    const spec = checkSpec(raw, `head ${i}`);
    expectDims(spec, { keyDim: dims.keyDim, valueDim: dims.valueDim }, `head ${i}`);
    return build(registry, spec, (c) => c.loadState(states[i]!));
  });
  return new ModelCache({ ...dims, caches: (l, h) => heads[l * dims.kvHeads + h]! });
}
