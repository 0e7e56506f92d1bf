import { InvalidParamsError } from '@kv/core';

/**
 * What a {@link HeadPool} asks of its members (implemented by `EvictionCache`).
 * @internal
 */
export interface PoolMember {
  /** Head index within the pool. */
  readonly poolIndex: number;
  /** Rows held. */
  readonly stored: number;
  /** Tokens seen (the arriving token's position while it is placed). */
  readonly clock: number;
  /** Rows the member's own budget allows once `seen` tokens are seen. */
  ownCapacity(seen: number): number;
  /**
   * Finds the member's lowest-scored eviction unit for this round (`epoch`); false when it has
   * no candidate. The result is in `lowScore`, `lowPosition`.
   */
  findLowest(epoch: number): boolean;
  /** Score of the last unit found. */
  readonly lowScore: number;
  /** Oldest position in the last unit found. */
  readonly lowPosition: number;
  /** Evicts the last unit found. */
  evictLowest(): void;
}

/**
 * One budget shared by the KV heads of a layer (AdaKV): the heads hold
 * `Σ_h capacity_h(seen)` rows between them, and when the pool is full the lowest-scored
 * candidate of any head goes, so heads whose attention is spread keep more rows than heads whose
 * attention is concentrated. Each head keeps at least `alpha` of its own share (AdaKV's safeguard).
 * The pool holds no state of its own (its decisions depend only on its members' states), so a
 * restored model rebuilds it by creating the heads in order.
 *
 * @example
 * ```ts
 * import { ModelCache, PolicyRegistry } from '@kv/core';
 * import { adaKV, heuristicPolicies } from '@kv/heuristics';
 * const registry = new PolicyRegistry().register(...heuristicPolicies);
 * // three KV heads per layer share their layer's budget (1/8 of the float32 bytes on average)
 * const cache = new ModelCache({
 *   layers: 2, kvHeads: 3, keyDim: 16, valueDim: 16, registry,
 *   policy: adaKV({ policy: 'tova', budget: { fraction: 1 / 8 } }, { heads: 3 }),
 * });
 * ```
 * @see Feng et al., Ada-KV: Optimizing KV Cache Eviction by Adaptive Budget Allocation (arXiv 2407.11550).
 */
export class HeadPool {
  /** Number of heads that share the budget. */
  readonly size: number;
  /** Fraction of its own share each head always keeps. */
  readonly alpha: number;
  private readonly members: (PoolMember | undefined)[];
  private epoch = 0;

  /**
   * @param size - Number of heads.
   * @param alpha - Safeguard fraction in [0, 1].
   */
  constructor(size: number, alpha: number) {
    this.size = size;
    this.alpha = alpha;
    this.members = new Array<PoolMember | undefined>(size).fill(undefined);
  }

  /** Heads that joined so far. */
  get joined(): number {
    let n = 0;
    for (const m of this.members) if (m) n++;
    return n;
  }

  /**
   * Whether head `index` may join (its place is free and every joined head has a lower index,
   * since a model creates its heads in order).
   * @param index - Head index.
   * @returns True when it may join.
   */
  accepts(index: number): boolean {
    for (let i = index; i < this.size; i++) if (this.members[i]) return false;
    return true;
  }

  /**
   * Adds a member.
   * @param member - The head.
   */
  join(member: PoolMember): void {
    this.members[member.poolIndex] = member;
  }

  private maxSeen(requester: PoolMember | null): number {
    let seen = requester ? requester.clock + 1 : 0;
    for (const m of this.members) if (m && m.clock > seen) seen = m.clock;
    return seen;
  }

  /**
   * Rows the pool allows: every member's own capacity at the furthest `seen` of the layer (all
   * heads will reach it within the step), so a head that is prefilled first may borrow its
   * neighbours' shares.
   * @param requester - The head about to append (its next token counts), or null.
   * @returns Total rows.
   */
  capacity(requester: PoolMember | null): number {
    const seen = this.maxSeen(requester);
    let cap = 0;
    for (const m of this.members) if (m) cap += m.ownCapacity(seen);
    return cap;
  }

  /**
   * Rows held by every member.
   * @returns Total rows.
   */
  held(): number {
    let n = 0;
    for (const m of this.members) if (m) n += m.stored;
    return n;
  }

  /**
   * Rows a member may hold now: the pool's capacity less what the other heads hold.
   * @param member - A member.
   * @returns Its capacity.
   */
  capacityOf(member: PoolMember): number {
    return this.capacity(null) - (this.held() - member.stored);
  }

  /** Starts a round of evictions (members compute their scores once per round). */
  nextRound(): number {
    return ++this.epoch;
  }

  /**
   * The member holding the lowest-scored candidate this round (ties: oldest, then lower head),
   * skipping heads at or below their safeguard.
   * @param epoch - The round.
   * @returns The member, or null when no head has a candidate.
   */
  lowest(epoch: number): PoolMember | null {
    const seen = this.maxSeen(null);
    let best: PoolMember | null = null;
    for (const m of this.members) {
      if (!m) continue;
      if (m.stored <= Math.floor(this.alpha * m.ownCapacity(seen))) continue;
      if (!m.findLowest(epoch)) continue;
      if (best === null || m.lowScore < best.lowScore || (m.lowScore === best.lowScore && m.lowPosition < best.lowPosition)) best = m;
    }
    return best;
  }
}

// Pools still waiting for members, by layer key. A pool leaves once complete, and a head whose
// index does not follow the joined ones starts a new pool, so consecutive models (and restored
// ones) never share a pool.
const openPools = new Map<string, HeadPool>();

/**
 * Options of a pooled head (`params.pool`).
 *
 * @example
 * ```ts
 * import type { PoolParams } from '@kv/heuristics';
 * const pool: PoolParams = { heads: 8, head: 3, layer: 0, alpha: 0.2 };
 * ```
 */
export interface PoolParams {
  /** Heads sharing the budget. */
  readonly heads: number;
  /** This head's index in [0, heads). */
  readonly head: number;
  /** Layer (or any key) naming the pool. */
  readonly layer?: number | string;
  /** Safeguard: fraction of its own share a head always keeps (default 0.2). */
  readonly alpha?: number;
}

/**
 * Reads `params.pool`.
 * @param raw - The parameter.
 * @returns The options, or null when absent or for a single head.
 * @throws `InvalidParamsError` on a bad shape.
 * @internal
 */
export function parsePool(raw: unknown): Required<PoolParams> | null {
  if (raw === undefined) return null;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new InvalidParamsError(`parameter "pool" is ${JSON.stringify(raw)}, expected { heads, head, layer?, alpha? }`);
  }
  const p = raw as Record<string, unknown>;
  for (const k of Object.keys(p)) {
    if (!['heads', 'head', 'layer', 'alpha'].includes(k)) throw new InvalidParamsError(`parameter "pool" has no field "${k}"; its fields are heads, head, layer, alpha`);
  }
  const heads = p['heads'];
  const head = p['head'];
  const alpha = p['alpha'] ?? 0.2;
  const layer = p['layer'] ?? 0;
  if (!Number.isSafeInteger(heads) || (heads as number) < 1) throw new InvalidParamsError(`pool.heads is ${JSON.stringify(heads)}, expected an integer >= 1`);
  if (!Number.isSafeInteger(head) || (head as number) < 0 || (head as number) >= (heads as number)) {
    throw new InvalidParamsError(`pool.head is ${JSON.stringify(head)}, expected an integer in [0, ${String(heads)})`);
  }
  if (typeof alpha !== 'number' || !(alpha >= 0 && alpha <= 1)) throw new InvalidParamsError(`pool.alpha is ${JSON.stringify(alpha)}, expected a number in [0, 1]`);
  if (typeof layer !== 'number' && typeof layer !== 'string') throw new InvalidParamsError(`pool.layer is ${JSON.stringify(layer)}, expected a number or a string`);
  if (heads === 1) return null;
  return { heads: heads as number, head: head as number, layer, alpha };
}

/**
 * The pool a new head joins: the open pool of its key when the head's index follows the joined
 * ones, else a new one.
 * @param key - The pool key (layer, shape, policy).
 * @param options - The head's pool options.
 * @returns The pool (not yet joined).
 * @internal
 */
export function poolFor(key: string, options: Required<PoolParams>): HeadPool {
  let pool = openPools.get(key);
  if (pool === undefined || pool.size !== options.heads || pool.alpha !== options.alpha || !pool.accepts(options.head)) {
    pool = new HeadPool(options.heads, options.alpha);
    openPools.set(key, pool);
  }
  // The last head closes the pool: later heads with this key start a new one.
  if (options.head === options.heads - 1) openPools.delete(key);
  return pool;
}
