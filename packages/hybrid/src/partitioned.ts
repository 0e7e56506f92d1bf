import {
  BaseHeadCache,
  type Budget,
  type CacheDescription,
  type CacheState,
  createKernelSums,
  type HeadCache,
  InvalidParamsError,
  isByteBudget,
  type KernelSums,
  mergeSums,
  nrm2,
  partBudget,
  requireFits,
  Rng,
  type PolicyChoice,
  type PolicyDefinition,
  type PolicyRegistryLike,
  type PolicySpec,
  type StateArray,
  type StateReader,
} from '@kv/core';
import { createFamily, type LshFamily } from '@kv/lsh';
import { createPart } from './choice.js';

/**
 * A routing rule: sends a token (its key and logical position) to one of `parts` sub-policies.
 * Must be deterministic, return an integer in [0, parts), and not keep the key.
 *
 * @example
 * ```ts
 * import { createPartitionedPolicy, type TokenRoute } from '@kv/hybrid';
 * const evenOdd: TokenRoute = (_key, position, parts) => position % parts;
 * const policy = createPartitionedPolicy('even-odd', { evenOdd });
 * ```
 */
export type TokenRoute = (key: Float32Array, position: number, parts: number) => number;

/**
 * A serializable routing rule:
 * - `position`: part i takes positions in [boundaries[i−1], boundaries[i]) (sums of estimators over
 *   consecutive ranges of the stream);
 * - `norm`: part i takes keys whose ℓ2 norm lies in [thresholds[i−1], thresholds[i]);
 * - `round-robin`: position mod parts;
 * - `lsh`: the bucket of the key under a seeded `@kv/lsh` hash function, mod parts (similar
 *   directions share a part, so each part sees a cluster of keys);
 * - `custom`: a named rule given to {@link createPartitionedPolicy}.
 *
 * @example
 * ```ts
 * import { compileRoute, type RouteSpec } from '@kv/hybrid';
 * const byNorm: RouteSpec = { kind: 'norm', thresholds: [2, 4] };
 * compileRoute(byNorm, 3, {})(new Float32Array([3, 0]), 0, 3); // 1: the norm 3 lies in [2, 4)
 * ```
 */
export type RouteSpec =
  | {
      /** Route by position ranges. */
      readonly kind: 'position';
      /** Increasing start positions of parts 1..P−1. */
      readonly boundaries: readonly number[];
    }
  | {
      /** Route by key norm. */
      readonly kind: 'norm';
      /** Increasing norm thresholds between parts. */
      readonly thresholds: readonly number[];
    }
  | {
      /** Route by position modulo the number of parts. */
      readonly kind: 'round-robin';
    }
  | {
      /** Route by an LSH bucket of the key (`@kv/lsh` families), bucket mod parts. */
      readonly kind: 'lsh';
      /** Hash family (default `simhash`). */
      readonly family?: 'simhash' | 'cross-polytope' | 'spherical-filter';
      /** Concatenated hashes k (default: enough SimHash bits for the parts, else 1). */
      readonly hashes?: number;
      /** Seed of the drawn hash function (default: the cache's seed). */
      readonly seed?: number;
    }
  | {
      /** A named user rule. */
      readonly kind: 'custom';
      /** Name of a rule registered with {@link createPartitionedPolicy}. */
      readonly name: string;
    };

/**
 * A compiled routing rule; rules that draw a hash function expose it (its arrays count in `bytes`).
 *
 * @example
 * ```ts
 * import { type CompiledRoute, compileRoute } from '@kv/hybrid';
 * const route: CompiledRoute = compileRoute({ kind: 'lsh', family: 'simhash' }, 4, {}, 8, 1);
 * route(new Float32Array(8).fill(1), 0, 4); // a part in [0, 4)
 * route.family !== undefined; // true: the drawn hash function
 * ```
 */
export type CompiledRoute = TokenRoute & {
  /** The drawn LSH function of an `lsh` rule. */
  family?: LshFamily;
};

/**
 * Parameters of {@link partitioned}.
 *
 * @example
 * ```ts
 * import { partitioned, type PartitionedOptions } from '@kv/hybrid';
 * const options: PartitionedOptions = { route: { kind: 'round-robin' }, parts: [{ policy: 'exact' }, { policy: 'exact' }] };
 * partitioned(options);
 * ```
 */
export interface PartitionedOptions {
  /** The routing rule. */
  readonly route: RouteSpec;
  /** One policy choice per part. */
  readonly parts: readonly PolicyChoice[];
  /** Registered name of the partitioned policy (default `"partitioned"`). */
  readonly policy?: string;
}

/**
 * Spec builder of a partitioned cache: a routing rule sends each token to one of several
 * sub-policies; answers merge the parts' kernel sums by log-sum-exp.
 *
 * @param options - The rule and the parts.
 * @returns A policy choice.
 * @example
 * ```ts
 * import { partitioned } from '@kv/hybrid';
 * partitioned({ route: { kind: 'norm', thresholds: [4] }, parts: [{ policy: 'exact' }, { policy: 'exact' }] });
 * ```
 */
export function partitioned(options: PartitionedOptions): PolicyChoice {
  return { policy: options.policy ?? 'partitioned', params: { route: options.route, parts: options.parts } };
}

/**
 * Spec builder of a sum of estimators over disjoint, consecutive ranges of the stream: part i
 * receives positions [starts[i], starts[i+1]).
 *
 * @param parts - The estimators, in stream order.
 * @param starts - Start positions of parts 1..P−1 (increasing).
 * @returns A policy choice (a position-routed partition).
 * @example
 * ```ts
 * import { sumOf } from '@kv/hybrid';
 * sumOf([{ policy: 'exact' }, { policy: 'exact' }], [1000]); // first 1000 tokens, then the rest
 * ```
 */
export function sumOf(parts: readonly PolicyChoice[], starts: readonly number[]): PolicyChoice {
  return partitioned({ route: { kind: 'position', boundaries: starts }, parts });
}

function increasing(values: unknown, what: string): readonly number[] {
  if (!Array.isArray(values) || values.some((v) => typeof v !== 'number' || !Number.isFinite(v))) {
    throw new InvalidParamsError(`${what} is ${JSON.stringify(values)}, expected an array of finite numbers`);
  }
  for (let i = 1; i < values.length; i++) {
    if (!(values[i] > values[i - 1])) throw new InvalidParamsError(`${what} must be strictly increasing, got ${JSON.stringify(values)}`);
  }
  return values as number[];
}

function upperBoundIndex(sorted: readonly number[], x: number): number {
  let i = 0;
  while (i < sorted.length && x >= sorted[i]!) i++;
  return i;
}

/**
 * Turns a {@link RouteSpec} into a routing function, checking it against the number of parts.
 *
 * @param route - The serializable rule.
 * @param parts - Number of parts.
 * @param custom - Named user rules.
 * @param dim - Key dimension (needed by the `lsh` rule, which draws its hash function here).
 * @param seed - Default seed of the `lsh` rule's hash function.
 * @returns The routing function (the `lsh` rule's also carries its drawn `family`).
 * @throws `InvalidParamsError` (from `@kv/core`) for an unknown kind, a rule inconsistent with `parts`, an unknown custom name, or an `lsh` rule without a dimension.
 * @example
 * ```ts
 * import { compileRoute } from '@kv/hybrid';
 * const route = compileRoute({ kind: 'round-robin' }, 2, {});
 * route(new Float32Array(4), 3, 2); // 1
 * ```
 */
export function compileRoute(
  route: RouteSpec,
  parts: number,
  custom: Readonly<Record<string, TokenRoute>>,
  dim?: number,
  seed = 0,
): CompiledRoute {
  if (typeof route !== 'object' || route === null) throw new InvalidParamsError('route must be an object with a "kind"');
  switch (route.kind) {
    case 'position': {
      const b = increasing(route.boundaries, 'route.boundaries');
      if (b.length !== parts - 1) throw new InvalidParamsError(`route.boundaries has ${b.length} entries, expected parts − 1 = ${parts - 1}`);
      return (_key, position) => upperBoundIndex(b, position);
    }
    case 'norm': {
      const t = increasing(route.thresholds, 'route.thresholds');
      if (t.length !== parts - 1) throw new InvalidParamsError(`route.thresholds has ${t.length} entries, expected parts − 1 = ${parts - 1}`);
      return (key) => upperBoundIndex(t, nrm2(key.length, key, 1, 0));
    }
    case 'round-robin':
      return (_key, position, p) => position % p;
    case 'lsh': {
      if (dim === undefined) throw new InvalidParamsError('an lsh route needs the key dimension');
      const kind = route.family ?? 'simhash';
      if (kind !== 'simhash' && kind !== 'cross-polytope' && kind !== 'spherical-filter') {
        throw new InvalidParamsError(`route.family is ${JSON.stringify(kind)}, expected simhash, cross-polytope or spherical-filter`);
      }
      const hashes = route.hashes ?? (kind === 'simhash' ? Math.max(1, Math.ceil(Math.log2(parts))) : 1);
      if (!Number.isInteger(hashes) || hashes < 1 || hashes > 30) throw new InvalidParamsError(`route.hashes is ${JSON.stringify(route.hashes)}, expected an integer in [1, 30]`);
      const routeSeed = route.seed ?? seed;
      if (!Number.isSafeInteger(routeSeed)) throw new InvalidParamsError(`route.seed is ${JSON.stringify(route.seed)}, expected an integer`);
      const family = createFamily(dim, { kind, hashes }, new Rng(routeSeed));
      const fn: CompiledRoute = (key, _position, p) => family.hash(key, 0) % p;
      fn.family = family;
      return fn;
    }
    case 'custom': {
      const fn = custom[route.name];
      if (!fn) throw new InvalidParamsError(`no custom route "${route.name}"; known: ${Object.keys(custom).join(', ') || '(none)'}`);
      return fn;
    }
    default:
      throw new InvalidParamsError(`route kind ${JSON.stringify((route as { kind?: unknown }).kind)} is not one of position, norm, round-robin, lsh, custom`);
  }
}

/**
 * The budget of one of `parts` parts that split the stream between them, after `reserved` bytes.
 * Token and `{bytes}` budgets split evenly, a ratio is kept. A fraction is kept (the parts' seen
 * counts add up to the stream), but its floor cannot simply be split: a part over its share of the
 * floor while another sits at its share would hold more than the whole. With the floor m' and
 * offset o' left after the reservation, each part gets the floor a = m'/P and the offset
 * min(o', o'/P) − (P−1)·a, so that Σ_i max(a, f·s_i + c) ≤ max(m', f·Σs_i + o') for every split:
 * the parts at their floor hold P·a = m' at most, and each part above it gives back the floor
 * shares of all the others.
 */
function routedShare(budget: Budget | undefined, reserved: number, parts: number, d: number, s: number): Budget | undefined {
  if (!isByteBudget(budget) || !('fraction' in budget)) return partBudget(budget, { reservedRows: reserved > 0 ? 1 : 0, reservedRowBytes: reserved, parts }, d, s);
  const floor = Math.max(0, (budget.minBytes ?? 0) - reserved);
  const offset = (budget.offsetBytes ?? 0) - reserved;
  const a = Math.floor(floor / parts);
  return { fraction: budget.fraction, minBytes: a, offsetBytes: Math.floor(Math.min(offset, offset / parts)) - (parts - 1) * a };
}

/** The typed arrays of a route's drawn hash function (held, so counted in bytes). */
function routeArrays(route: CompiledRoute): StateArray[] {
  if (!route.family) return [];
  return route.family.buffers().map((b) => {
    if (b instanceof Float64Array || b instanceof Float32Array || b instanceof Int32Array || b instanceof Uint32Array || b instanceof Int8Array || b instanceof Uint8Array || b instanceof Int16Array || b instanceof Uint16Array) return b;
    throw new InvalidParamsError(`the route's hash function holds a ${b.constructor.name}, which a cache state cannot hold`);
  });
}

/**
 * Tokens routed to disjoint sub-policies; answers are the log-sum-exp merge of the parts' kernel
 * sums, so with exact parts it is exact attention, and merged sums equal the sum of the parts.
 *
 * @remarks
 * Budget: `capacity = Σ part.capacity`. Parts without a budget of their own share a token or
 * `{bytes}` budget equally (after the bytes of an `lsh` rule's drawn hash function, which must fit
 * the budget's smallest bytes), or keep a `{ratio}` or `{fraction}` budget, since their streams
 * add up to the whole stream; a fraction's `minBytes` floor is split so that the parts together
 * never hold more than the budget, whichever way the route splits the stream (a part beyond its
 * share of the floor gives back the shares of the others).
 * @example
 * ```ts
 * import { PolicyRegistry, exactPolicy } from '@kv/core';
 * import { partitionedPolicy } from '@kv/hybrid';
 * const registry = new PolicyRegistry().register(exactPolicy, partitionedPolicy);
 * registry.create({ policy: 'partitioned', keyDim: 4, valueDim: 4,
 *   params: { route: { kind: 'round-robin' }, parts: [{ policy: 'exact' }, { policy: 'exact' }] } });
 * ```
 */
export class PartitionedCache extends BaseHeadCache {
  /** The sub-caches, one per part. */
  readonly parts: readonly HeadCache[];
  private readonly route: CompiledRoute;
  private readonly routeArrays: readonly StateArray[];
  private readonly partial: KernelSums;

  /**
   * @param spec - Spec with params `route` and `parts`.
   * @param registry - Registry that builds the parts.
   * @param custom - Named user routing rules.
   * @throws `InvalidParamsError` (from `@kv/core`) on bad params; `InvalidBudgetError` (from `@kv/core`) when the budget cannot hold the route's hash function or a part.
   */
  constructor(spec: PolicySpec, registry: PolicyRegistryLike, custom: Readonly<Record<string, TokenRoute>> = {}) {
    super(spec);
    const choices = spec.params?.['parts'];
    if (!Array.isArray(choices) || choices.length === 0) {
      throw new InvalidParamsError(`parameter "parts" is ${JSON.stringify(choices)}, expected a non-empty array of policy choices`);
    }
    this.route = compileRoute(spec.params?.['route'] as RouteSpec, choices.length, custom, spec.keyDim, spec.seed ?? 0);
    this.routeArrays = routeArrays(this.route);
    let routeBytes = 0;
    for (const a of this.routeArrays) routeBytes += a.byteLength;
    const reserve = isByteBudget(spec.budget) && routeBytes > 0;
    if (reserve) requireFits(spec.policy, spec.budget, { fixed: routeBytes, perRow: 0 }, spec.keyDim, spec.valueDim);
    const share = routedShare(spec.budget, reserve ? routeBytes : 0, choices.length, spec.keyDim, spec.valueDim);
    this.parts = choices.map((c, i) => {
      if (typeof c !== 'object' || c === null || typeof c.policy !== 'string') {
        throw new InvalidParamsError(`parts[${i}] is ${JSON.stringify(c)}, expected a policy choice`);
      }
      return createPart(registry, spec, c as PolicyChoice, i, share);
    });
    this.partial = createKernelSums(spec.valueDim);
  }

  /** Σ stored over the parts. */
  get stored(): number {
    let n = 0;
    for (const p of this.parts) n += p.stored;
    return n;
  }

  /** Σ capacity over the parts. */
  override get capacity(): number {
    let n = 0;
    for (const p of this.parts) n += p.capacity;
    return n;
  }

  protected saveState(): CacheState {
    const arrays: Record<string, StateArray> = {};
    this.routeArrays.forEach((a, i) => (arrays[`route${i}`] = a));
    const parts: Record<string, CacheState> = {};
    this.parts.forEach((p, i) => (parts[`part${i}`] = p.state()));
    return { scalars: {}, arrays, parts };
  }

  protected restoreState(r: StateReader): void {
    // The hash function is drawn from the spec's seed: the saved one must be the same.
    this.routeArrays.forEach((want, i) => {
      const got: StateArray = r.array(`route${i}`, want.constructor as Float64ArrayConstructor, want.length);
      for (let j = 0; j < want.length; j++) if (!Object.is(got[j], want[j])) r.refuse(`array "route${i}" is not the hash function this spec draws`);
    });
    this.parts.forEach((p, i) => p.loadState(r.part(`part${i}`).state));
  }

  protected override describeSummary(): string {
    return `partitioned: ${this.parts.length} parts (${this.parts.map((p) => p.spec.policy).join(', ')})`;
  }

  protected override describeParts(): CacheDescription[] {
    return this.parts.map((p) => p.describe());
  }

  protected onAppend(key: Float32Array, value: Float32Array, position: number): void {
    const i = this.route(key, position, this.parts.length);
    const part = this.parts[i];
    if (!Number.isInteger(i) || !part) {
      throw new InvalidParamsError(`the route sent position ${position} to part ${i}, expected an integer in [0, ${this.parts.length})`);
    }
    part.append(key, value);
  }

  protected onSums(query: Float32Array, out: KernelSums): KernelSums {
    out.m = -Infinity;
    out.z = 0;
    out.n.fill(0);
    for (const p of this.parts) if (p.seen > 0) mergeSums(out, p.sums(query, this.partial));
    return out;
  }

  protected onReset(): void {
    for (const p of this.parts) p.reset();
  }
}

/**
 * A partitioned policy definition that also knows named user routing rules, registered under a
 * name of your choice (so specs stay serializable while the rule is code).
 *
 * @param name - Registered policy name.
 * @param routes - Named routing functions usable as `{ kind: 'custom', name }`.
 * @returns The definition.
 * @example
 * ```ts
 * import { PolicyRegistry, exactPolicy } from '@kv/core';
 * import { createPartitionedPolicy, partitioned } from '@kv/hybrid';
 * const byFirstCoordinate = createPartitionedPolicy('by-sign', { sign: (k) => (k[0]! >= 0 ? 0 : 1) });
 * const registry = new PolicyRegistry().register(exactPolicy, byFirstCoordinate);
 * const choice = partitioned({ policy: 'by-sign', route: { kind: 'custom', name: 'sign' }, parts: [{ policy: 'exact' }, { policy: 'exact' }] });
 * ```
 */
export function createPartitionedPolicy(name: string, routes: Readonly<Record<string, TokenRoute>>): PolicyDefinition {
  return {
    name,
    summary: 'Routes each token to one of several sub-policies (position, norm, round-robin, LSH bucket or a custom rule); answers merge by log-sum-exp.',
    params: [
      { name: 'route', type: 'object', description: 'routing rule {kind: position|norm|round-robin|lsh|custom, ...}' },
      { name: 'parts', type: 'spec[]', description: 'one policy choice per part' },
    ],
    budget: 'optional',
    create: (spec, registry) => new PartitionedCache(spec, registry, routes),
  };
}

/**
 * Registry entry of {@link PartitionedCache} (`"partitioned"`) with the built-in rules only.
 *
 * @example
 * ```ts
 * import { PolicyRegistry, exactPolicy } from '@kv/core';
 * import { partitionedPolicy } from '@kv/hybrid';
 * new PolicyRegistry().register(exactPolicy, partitionedPolicy);
 * ```
 */
export const partitionedPolicy: PolicyDefinition = createPartitionedPolicy('partitioned', {});
