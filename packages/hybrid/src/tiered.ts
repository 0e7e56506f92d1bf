import {
  BaseHeadCache,
  type CacheDescription,
  type CacheState,
  createKernelSums,
  type HeadCache,
  integerParam,
  InvalidParamsError,
  isKvError,
  KvErrorCode,
  type KernelSums,
  mergeSums,
  nrm2,
  parsePrecision,
  type Precision,
  precisionParam,
  type PolicyChoice,
  type PolicyDefinition,
  type PolicyRegistryLike,
  type PolicySpec,
  readKeptRows,
  SlotStore,
  type StateReader,
} from '@kv/core';
import { choiceParamOf, createPart } from './choice.js';

/** The certificate r below which an answer counts as certified (the evicted tokens cannot move it by more than max||v||). */
const CERTIFIED = 0.5;

/** Most halvings of the window tried so that a middle's fixed part fits what the window leaves. */
const MAX_HALVINGS = 4;
import { planTiers, tierCaps, type TierCosts, type TierPlan, type WindowSize } from './tiered-budget.js';

/**
 * Parameters of {@link tiered}.
 *
 * @example
 * ```ts
 * import { tiered, type TieredOptions } from '@kv/hybrid';
 * const options: TieredOptions = { sinks: 4, window: 128, middle: { policy: 'moment-cells' } };
 * tiered(options);
 * ```
 */
export interface TieredOptions {
  /** Exact attention-sink tokens kept from the start of the stream (default 4). */
  readonly sinks?: number;
  /**
   * Exact most-recent tokens (default 32), or `{ share }`: that share of the rows the budget holds,
   * growing with a `{fraction}` budget.
   */
  readonly window?:
    | number
    | {
        /** Share in (0, 1] of the rows the budget holds. */
        readonly share: number;
      };
  /** The policy that receives tokens as they leave the window (omitted: they are dropped, StreamingLLM). */
  readonly middle?: PolicyChoice;
}

/**
 * Spec builder of a tiered cache: exact sinks + exact recent window + any policy for the middle,
 * tokens flowing into the middle as they leave the window (how practical BalanceKV and
 * StreamingLLM work).
 *
 * @param options - Sinks, window and the middle policy.
 * @returns A policy choice for `"tiered"`, to pass to a registry or a `ModelCache`.
 * @example
 * ```ts
 * import { tiered } from '@kv/hybrid';
 * const choice = tiered({ sinks: 4, window: 64, middle: { policy: 'exact' } });
 * // registry.create({ ...choice, keyDim: 64, valueDim: 64 })
 * ```
 */
export function tiered(options: TieredOptions): PolicyChoice {
  return {
    policy: 'tiered',
    params: { sinks: options.sinks ?? 4, window: options.window ?? 32, ...(options.middle ? { middle: options.middle } : {}) },
  };
}

/** Reads the `window` parameter: a token count, or `{ share }` in (0, 1]. */
function readWindow(params: Readonly<Record<string, unknown>> | undefined): WindowSize {
  const raw = params?.['window'];
  if (typeof raw === 'object' && raw !== null && !Array.isArray(raw)) {
    const keys = Object.keys(raw);
    const share = (raw as { share?: unknown }).share;
    if (keys.length !== 1 || typeof share !== 'number' || !(share > 0 && share <= 1)) {
      throw new InvalidParamsError(`parameter "window" is ${JSON.stringify(raw)}, expected a token count or { share } with share in (0, 1]`);
    }
    return { share };
  }
  return { tokens: integerParam(params, 'window', { default: 32, min: 0 }) };
}

/** Reads the `precision` parameter: one precision for every part, or `{ sinks?, window?, middle? }`. */
function readPrecision(params: Readonly<Record<string, unknown>> | undefined): { sinks?: Precision; window?: Precision; middle?: Precision } {
  const raw = params?.['precision'];
  if (raw === undefined) return {};
  if (typeof raw === 'object' && raw !== null && !Array.isArray(raw) && ['sinks', 'window', 'middle'].some((k) => k in raw)) {
    const o = raw as Record<string, unknown>;
    for (const k of Object.keys(o)) {
      if (k !== 'sinks' && k !== 'window' && k !== 'middle') throw new InvalidParamsError(`tiered params.precision has no part "${k}"; its parts are sinks, window, middle`);
    }
    const out: { sinks?: Precision; window?: Precision; middle?: Precision } = {};
    for (const k of ['sinks', 'window', 'middle'] as const) if (o[k] !== undefined) out[k] = parsePrecision(o[k], `tiered params.precision.${k}`);
    return out;
  }
  const all = parsePrecision(raw, 'tiered params.precision');
  return { sinks: all, window: all, middle: all };
}

/**
 * Exact sinks, an exact ring-buffer window, and a middle sub-policy fed the tokens that leave the
 * window (or, without a middle, dropped: StreamingLLM). Answers merge the parts' kernel sums by
 * log-sum-exp, so with an exact middle it is exact attention.
 *
 * @remarks
 * Budget: the sinks and the window are rows with positions, at their precision (`precision`: one
 * for every part, or `{ sinks, window, middle }`; the middle's is passed to the middle policy
 * unless its choice sets one); the middle gets what they leave (`planTiers`: core's
 * `partBudget`, with the middle's stream shifted by sinks + window so a fraction stays a fraction
 * of the whole stream). Sinks and window must fit too:
 * - a fixed budget (tokens or `{bytes}`) too small for them shrinks them once at creation, keeping
 *   at least one row for the middle;
 * - a `{fraction}` budget caps them token by token at what the budget holds so far, so early in a
 *   stream the window is shorter (the middle holds nothing yet) and grows back to its size;
 * - `window: { share }` makes the window that share of the bytes the budget gives (growing with a
 *   `{fraction}` budget; the middle's fraction is then about f(1 − share)/(1 − f·share) of its stream);
 * - a middle that refuses what the window leaves it (its fixed part does not fit) gets more: the
 *   window is halved, at most 4 times, until the middle fits (`windowHalvings` in `describe()`);
 * - `describe()` says what was kept and whether it was shrunk.
 *
 * A `{ratio}` budget is passed on to the middle (as a ratio of the tokens the middle sees).
 * @example
 * ```ts
 * import { PolicyRegistry, exactPolicy } from '@kv/core';
 * import { tieredPolicy } from '@kv/hybrid';
 * const registry = new PolicyRegistry().register(exactPolicy, tieredPolicy);
 * const cache = registry.create({ policy: 'tiered', keyDim: 8, valueDim: 8, params: { sinks: 2, window: 4, middle: { policy: 'exact' } } });
 * ```
 */
export class TieredCache extends BaseHeadCache {
  /** Sink tokens asked for. */
  readonly sinkCount: number;
  /** Window tokens asked for (Infinity for a share of a growing budget). */
  readonly windowSize: number;
  /** Share of the budget's rows the window takes (undefined for a token count). */
  readonly windowShare: number | undefined;
  /** How many times the asked window was halved so that the middle's fixed part fits (0: as asked). */
  readonly windowHalvings: number = 0;
  /** The middle sub-cache (null: tokens leaving the window are dropped). */
  readonly middle: HeadCache | null;
  private readonly plan: TierPlan;
  private readonly costs: TierCosts;
  private readonly sinks: SlotStore;
  private readonly window: SlotStore;
  private windowPositions: Int32Array;
  /** Slot of the oldest window token (the ring's start). */
  private head = 0;
  private dropped = 0;
  /** Tokens that left the window (to the middle or dropped), and the largest key norm among them. */
  private leftCount = 0;
  private leftKeyNorm = 0;
  private uncertifiedCount = 0;
  private lastBound = 0;
  private readonly partial: KernelSums;
  private readonly keyRow: Float32Array;
  private readonly valueRow: Float32Array;

  /**
   * @param spec - Spec with params `sinks`, `window`, `middle`.
   * @param registry - Registry that builds the middle.
   * @throws `InvalidParamsError` (from `@kv/core`) on bad params; `InvalidBudgetError` (from `@kv/core`) when the middle refuses what is left.
   */
  constructor(spec: PolicySpec, registry: PolicyRegistryLike) {
    super(spec);
    const d = spec.keyDim;
    const s = spec.valueDim;
    this.sinkCount = integerParam(spec.params, 'sinks', { default: 4, min: 0 });
    const window = readWindow(spec.params);
    let middleChoice = spec.params?.['middle'] === undefined ? null : choiceParamOf(spec.params, 'middle');
    if (middleChoice !== null && 'share' in window && window.share === 1) throw new InvalidParamsError('tiered: a window of share 1 leaves nothing for the middle');
    const precision = readPrecision(spec.params);
    const seed = spec.seed ?? 0;
    // Sinks keep their positions (they are not implicit once a late sink joins); the window keeps
    // its own ring of positions.
    this.sinks = new SlotStore(d, s, { initialSlots: 0, seed, ...(precision.sinks ? { precision: precision.sinks } : {}) });
    this.window = new SlotStore(d, s, { initialSlots: 0, positions: false, seed: seed + 1, ...(precision.window ? { precision: precision.window } : {}) });
    this.costs = { sinkRow: this.sinks.perRowBytes, windowRow: this.window.perRowBytes + 4, fixed: this.sinks.fixedBytes + this.window.fixedBytes };
    if (middleChoice !== null && precision.middle && middleChoice.params?.['precision'] === undefined) {
      middleChoice = { ...middleChoice, params: { ...middleChoice.params, precision: precision.middle } };
    }
    // A middle whose fixed part does not fit what the window leaves it gets more: the window is
    // halved (at most MAX_HALVINGS times) until the middle accepts its budget, and describe() says so.
    let asked = window;
    let middle: HeadCache | null = null;
    let plan: TierPlan;
    for (let halvings = 0; ; halvings++) {
      plan = planTiers(spec.budget, this.sinkCount, asked, middleChoice !== null, this.costs, d, s);
      if (middleChoice === null) break;
      try {
        middle = createPart(registry, spec, middleChoice, 0, plan.middleBudget);
        break;
      } catch (e) {
        const smaller: WindowSize | null = halvings >= MAX_HALVINGS ? null : 'share' in asked ? { share: asked.share / 2 } : asked.tokens > 0 ? { tokens: Math.floor(asked.tokens / 2) } : null;
        if (!isKvError(e, KvErrorCode.InvalidBudget) || smaller === null) throw e;
        asked = smaller;
        this.windowHalvings = halvings + 1;
      }
    }
    this.plan = plan;
    this.windowShare = 'share' in asked ? asked.share : undefined;
    this.windowSize = 'tokens' in asked ? asked.tokens : this.plan.window;
    this.sinks.limit = this.plan.sinks;
    this.window.limit = Number.isFinite(this.plan.window) ? this.plan.window : 0;
    this.windowPositions = new Int32Array(Math.min(this.plan.window, 16));
    this.middle = middle;
    this.partial = createKernelSums(s);
    this.keyRow = new Float32Array(d);
    this.valueRow = new Float32Array(s);
  }

  /** Sinks + window + the middle's stored token-equivalents. */
  get stored(): number {
    return this.sinks.count + this.window.count + (this.middle?.stored ?? 0);
  }

  /** Sinks + window the budget holds now + the middle's capacity. */
  override get capacity(): number {
    const caps = this.caps(this.seen);
    return caps.sinks + caps.window + (this.middle?.capacity ?? 0);
  }

  /** Bytes of the sink and window rows (with positions) plus the middle's. */
  override get bytes(): number {
    return this.sinks.heldBytes + this.window.heldBytes + 4 * this.window.count + (this.middle?.bytes ?? 0);
  }

  /** Sinks held (at most `sinkCount`). */
  get sinksHeld(): number {
    return this.sinks.count;
  }

  /** Window tokens held (at most `windowSize`). */
  get windowHeld(): number {
    return this.window.count;
  }

  /** Positions of the sinks, the window and (when it keeps tokens) the middle. */
  positions(): Int32Array {
    const mid = this.middle?.positions?.() ?? new Int32Array(0);
    const out = new Int32Array(this.sinks.count + this.window.count + mid.length);
    out.set(this.sinks.positions(), 0);
    out.set(this.windowPositions.subarray(0, this.window.count), this.sinks.count);
    out.set(mid, this.sinks.count + this.window.count);
    return out;
  }

  /**
   * The rows of the sinks, the window and the middle decoded to float32, in the order of `positions()`.
   * @throws `UnsupportedError` (from `@kv/core`) when the middle keeps no rows (a summary);
   *   `InvalidInputError` for a bad range or destinations too short.
   */
  keptRows(keys: Float32Array, values: Float32Array, start?: number, end?: number): number {
    return readKeptRows([this.sinks, this.window, this.middle], this.keyDim, this.valueDim, keys, values, start, end);
  }

  private caps(seen: number): { sinks: number; window: number } {
    return tierCaps(this.plan, this.spec.budget, seen, this.sinks.count, this.windowShare, this.costs, this.keyDim, this.valueDim);
  }

  /** Sends a token that leaves the window to the middle, or drops it. */
  private evict(key: Float32Array, value: Float32Array): void {
    this.leftCount++;
    const norm = nrm2(this.keyDim, key, 1, 0);
    if (norm > this.leftKeyNorm) this.leftKeyNorm = norm;
    if (this.middle) this.middle.append(key, value);
    else this.dropped++;
  }

  protected onAppend(key: Float32Array, value: Float32Array, position: number): void {
    const caps = this.caps(position + 1);
    if (position < this.sinkCount && this.sinks.count < caps.sinks) {
      this.sinks.push(key, 0, value, 0, position, 0);
      return;
    }
    const win = this.window;
    if (win.count < caps.window) {
      if (this.head !== 0) this.unwrap();
      if (win.count === this.windowPositions.length) {
        const grown = new Int32Array(Math.min(this.plan.window, Math.max(16, 2 * win.count)));
        grown.set(this.windowPositions);
        this.windowPositions = grown;
      }
      win.limit = win.count + 1;
      this.windowPositions[win.push(key, 0, value, 0, position, 0)] = position;
      return;
    }
    if (win.count === 0) {
      this.evict(key, value);
      return;
    }
    // Ring buffer: the oldest window token leaves for the sinks (a sink position the budget could
    // not hold when it arrived) or the middle, and the new token takes its slot.
    const slot = this.head;
    win.readKey(slot, this.keyRow);
    win.readValue(slot, this.valueRow);
    const leaving = this.windowPositions[slot]!;
    if (leaving < this.sinkCount && this.sinks.count < caps.sinks) this.sinks.push(this.keyRow, 0, this.valueRow, 0, leaving, 0);
    else this.evict(this.keyRow, this.valueRow);
    win.write(slot, key, 0, value, 0, position, 0);
    this.windowPositions[slot] = position;
    this.head = (slot + 1) % win.count;
  }

  /** Rotates the ring so the oldest token is in slot 0 (before the window grows by one). */
  private unwrap(): void {
    const win = this.window;
    const n = win.count;
    const d = this.keyDim;
    const s = this.valueDim;
    const keys = new Float32Array(n * d);
    const values = new Float32Array(n * s);
    const pos = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const slot = (this.head + i) % n;
      win.readKey(slot, keys, i * d);
      win.readValue(slot, values, i * s);
      pos[i] = this.windowPositions[slot]!;
    }
    for (let i = 0; i < n; i++) win.write(i, keys, i * d, values, i * s, 0, 0);
    this.windowPositions.set(pos);
    this.head = 0;
  }

  protected onSums(query: Float32Array, out: KernelSums): KernelSums {
    this.sinks.sums(query, this.tau, out);
    if (this.window.count > 0) mergeSums(out, this.window.sums(query, this.tau, this.partial));
    // Certificate: the tokens that left the window weigh at most n·e^{τ·||q||·max||k||} in Z,
    // against the sinks' and window's exact weight.
    this.lastBound = this.leftCount === 0 ? 0 : Math.exp(Math.log(this.leftCount) + this.tau * nrm2(this.keyDim, query, 1, 0) * this.leftKeyNorm - (out.m + Math.log(out.z)));
    if (!(this.lastBound <= CERTIFIED)) this.uncertifiedCount++;
    if (this.middle && this.middle.seen > 0) mergeSums(out, this.middle.sums(query, this.partial));
    return out;
  }

  /**
   * The certificate of the last answer: an upper bound r on the weight in Z of the tokens that left
   * the window (kept by the middle or dropped) relative to the sinks' and window's exact weight,
   * r = n_left·e^{τ·||q||·max||k_left||}/Z_held. Whatever the middle answers, ||ô − o|| ≤ 2r·max||v||.
   * @returns r (0 before any token has left; Infinity when the held part has no weight).
   */
  get lastEvictedBound(): number {
    return this.lastBound;
  }

  /** Answers whose certificate r exceeded 1/2 (the evicted tokens could matter), so far. */
  get uncertified(): number {
    return this.uncertifiedCount;
  }

  protected onReset(): void {
    this.sinks.clear();
    this.window.clear();
    this.head = 0;
    this.dropped = 0;
    this.leftCount = 0;
    this.leftKeyNorm = 0;
    this.uncertifiedCount = 0;
    this.lastBound = 0;
    this.middle?.reset();
  }

  protected saveState(): CacheState {
    return {
      scalars: { head: this.head, dropped: this.dropped, left: this.leftCount, leftKeyNorm: this.leftKeyNorm, uncertified: this.uncertifiedCount },
      arrays: { windowPositions: this.windowPositions.subarray(0, this.window.count) },
      parts: { sinks: this.sinks.state(), window: this.window.state(), ...(this.middle ? { middle: this.middle.state() } : {}) },
    };
  }

  protected restoreState(r: StateReader): void {
    this.sinks.loadState(r.part('sinks'));
    const positions = r.array('windowPositions', Int32Array);
    this.window.limit = Math.max(this.window.limit, positions.length);
    this.window.loadState(r.part('window'));
    if (positions.length !== this.window.count) r.refuse(`${positions.length} window positions for ${this.window.count} window rows`);
    if (this.windowPositions.length < positions.length) this.windowPositions = new Int32Array(positions.length);
    this.windowPositions.set(positions);
    this.head = r.integer('head', 0, Math.max(0, this.window.count - 1));
    this.dropped = r.integer('dropped', 0, Number.MAX_SAFE_INTEGER);
    this.leftCount = r.integer('left', 0, Number.MAX_SAFE_INTEGER);
    this.leftKeyNorm = r.number('leftKeyNorm');
    this.uncertifiedCount = r.integer('uncertified', 0, Number.MAX_SAFE_INTEGER);
    if (this.middle) this.middle.loadState(r.part('middle').state);
  }

  protected override describeSummary(): string {
    const shrunk = this.shrunk ? `, shrunk from ${this.sinkCount} sinks + ${this.windowSize} window to fit the budget` : '';
    const halved = this.windowHalvings > 0 ? `, window halved ${this.windowHalvings} time(s) so the middle fits` : '';
    const early =
      this.plan.growing && this.windowShare === undefined && this.window.count < this.plan.window && this.seen > this.plan.sinks + this.window.count
        ? ' (the budget holds a shorter window so far)'
        : '';
    const size = this.windowShare === undefined ? `${this.plan.window}` : `${this.windowShare} of the budget`;
    const precision = this.sinks.precisionLabel === this.window.precisionLabel ? this.sinks.precisionLabel : `${this.sinks.precisionLabel} sinks, ${this.window.precisionLabel} window`;
    const middle = this.middle ? `middle ${this.middle.describe().summary}` : `no middle (${this.dropped} tokens dropped)`;
    return `tiered: ${this.sinks.count}/${this.plan.sinks} sinks + ${this.window.count}/${size} window${early}${shrunk}${halved} (${precision}); ${middle}; ${this.uncertifiedCount} answers where the evicted tokens could matter`;
  }

  /** Whether a fixed budget shrank the sinks or the window. */
  private get shrunk(): boolean {
    return this.plan.sinks < this.sinkCount || (this.windowShare === undefined && this.plan.window < this.windowSize);
  }

  protected override describeStats(): Record<string, number | string | boolean> {
    return {
      sinks: this.sinks.count,
      window: this.window.count,
      sinkSize: this.plan.sinks,
      windowSize: this.plan.window,
      sinkPrecision: this.sinks.precisionLabel,
      windowPrecision: this.window.precisionLabel,
      shrunk: this.shrunk,
      windowHalvings: this.windowHalvings,
      middleRows: this.middle?.stored ?? 0,
      middleBytes: this.middle?.bytes ?? 0,
      dropped: this.dropped,
      uncertified: this.uncertifiedCount,
    };
  }

  protected override describeParts(): CacheDescription[] {
    return this.middle ? [this.middle.describe()] : [];
  }
}

/**
 * Registry entry of {@link TieredCache} (`"tiered"`).
 *
 * @example
 * ```ts
 * import { PolicyRegistry, exactPolicy } from '@kv/core';
 * import { tieredPolicy } from '@kv/hybrid';
 * new PolicyRegistry().register(exactPolicy, tieredPolicy);
 * ```
 */
export const tieredPolicy: PolicyDefinition = {
  name: 'tiered',
  summary: 'Exact sinks + exact recent window + any policy for the middle (tokens flow in as they leave the window); sinks and window shrink to fit small budgets.',
  params: [
    { name: 'sinks', type: 'integer', default: 4, description: 'exact tokens kept from the start' },
    { name: 'window', type: 'integer', default: 32, description: 'exact most-recent tokens, or { share } of the rows the budget holds' },
    { name: 'middle', type: 'spec', description: 'policy choice for the tokens leaving the window (omitted: they are dropped)' },
    { ...precisionParam, description: `${precisionParam.description}; or { sinks, window, middle }, one per part (the middle's goes to the middle policy)` },
  ],
  budget: 'optional',
  create: (spec, registry) => new TieredCache(spec, registry),
};
