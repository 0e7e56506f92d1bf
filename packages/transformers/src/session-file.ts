import { decodeSnapshot, encodeSnapshot, type ModelCache, type PolicyRegistryLike, restoreModel, SnapshotError, StateReader, snapshotModel } from '@kv/core';
import type { PolicyKind } from './kinds.js';
import type { DecoderShape } from './model.js';
import { proxyPlan } from './options.js';
import type { ProxyPlan } from './past.js';

/**
 * Options of {@link CompressedSession.restore}.
 *
 * @example
 * ```ts
 * import { PolicyRegistry, exactPolicy } from '@kv/core';
 * import { heuristicPolicies } from '@kv/heuristics';
 * import type { RestoreOptions } from '@kv/transformers';
 * const options: RestoreOptions = { registry: new PolicyRegistry().register(exactPolicy, ...heuristicPolicies) };
 * ```
 */
export interface RestoreOptions {
  /** Registry holding every saved policy. */
  readonly registry: PolicyRegistryLike;
  /** Kinds of custom policies, as given at creation. */
  readonly kinds?: Readonly<Record<string, PolicyKind>>;
}

/** Header kinds: a session (with logits and sampler) or a generate() cache (caches only). */
export type FileKind = 'kv-transformers-session' | 'kv-transformers-cache';
const VERSION = 1;

/**
 * Encodes a compressed past: core's snapshot frame whose one state holds the nested
 * `snapshotModel` file of the caches (`cache`, bytes), the next-token logits (`logits`, a
 * session's after its first call), the sampler's random state and whether query proxies are on.
 */
export function writeSession(kind: FileKind, shape: DecoderShape, cache: ModelCache, logits: Float32Array | undefined, rng: readonly number[], queryProxy: boolean): Uint8Array {
  const arrays: Record<string, Uint8Array | Float32Array> = { cache: snapshotModel(cache) };
  if (logits) arrays['logits'] = logits;
  return encodeSnapshot({ kind, version: VERSION, shape }, [{ scalars: { rng, queryProxy, position: cache.seen }, arrays }]);
}

/** A decoded session. */
export interface SessionFile {
  readonly cache: ModelCache;
  readonly proxies: ProxyPlan | undefined;
  readonly logits: Float32Array | undefined;
  readonly rng: readonly number[];
}

/**
 * Decodes a session written by {@link writeSession} for a model of `shape`.
 * @throws `SnapshotError` for a bad file or another model's shape; errors of `restoreModel`.
 */
export function readSession(kind: FileKind, bytes: Uint8Array, shape: DecoderShape, options: RestoreOptions): SessionFile {
  const { header, states } = decodeSnapshot(bytes);
  if (header['kind'] !== kind || states.length !== 1) throw new SnapshotError('mismatch', `a ${String(header['kind'])} snapshot, expected a ${kind}`);
  if (typeof header['version'] !== 'number' || header['version'] > VERSION) {
    throw new SnapshotError('version', `${kind} version ${String(header['version'])}, this build reads up to ${VERSION}`);
  }
  const saved = header['shape'] as Record<string, unknown> | undefined;
  for (const f of ['layers', 'queryHeads', 'kvHeads', 'headDim', 'vocabSize'] as const) {
    if (saved?.[f] !== shape[f]) throw new SnapshotError('mismatch', `the session was saved from a model with ${f} ${JSON.stringify(saved?.[f])}, this model has ${shape[f]}`);
  }
  const r = new StateReader(states[0]!, kind);
  const rng = r.numbers('rng');
  const queryProxy = r.boolean('queryProxy');
  const position = r.integer('position', 0, 2 ** 31 - 1);
  const logits = r.state.arrays['logits'] !== undefined ? r.array('logits', Float32Array) : undefined;
  const wantLogits = kind === 'kv-transformers-session' && position > 0;
  if ((logits !== undefined) !== wantLogits || (logits !== undefined && logits.length < shape.vocabSize)) {
    throw new SnapshotError('format', `${kind}: position ${position} with ${logits ? logits.length : 'no'} logits`);
  }
  const cache = restoreModel(r.array('cache', Uint8Array), options.registry, {
    layers: shape.layers,
    kvHeads: shape.kvHeads,
    queryHeads: shape.queryHeads,
    keyDim: shape.headDim,
    valueDim: shape.headDim,
  });
  if (cache.seen !== position) throw new SnapshotError('format', `${kind}: the caches have seen ${cache.seen} tokens, the session says ${position}`);
  return { cache, proxies: proxyPlan(cache, options.kinds ?? {}, queryProxy, options.registry), logits: logits?.slice(), rng };
}
