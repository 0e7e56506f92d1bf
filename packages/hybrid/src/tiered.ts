import {
  BaseHeadCache,
  type Budget,
  budgetBytes,
  type CacheDescription,
  type CacheState,
  createKernelSums,
  type HeadCache,
  integerParam,
  isByteBudget,
  type KernelSums,
  mergeSums,
  partBudget,
  type PolicyChoice,
  type PolicyDefinition,
  type PolicyRegistryLike,
  type PolicySpec,
  SlotStore,
  type StateReader,
} from '@kv/core';
import { choiceParamOf, createPart } from './choice.js';

/**
 * Parameters of {@link tiered}.
 *
 * @example
 * ```ts
 * import { tiered, type TieredOptions } from '@kv/hybrid';
 * const options: TieredOptions = { sinks: 4, window: 128, middle: { policy: 'balancekv' } };
 * tiered(options);
 * ```
 */
export interface TieredOptions {
  /** Exact attention-sink tokens kept from the start of the stream (default 4). */
  readonly sinks?: number;
  /** Exact most-recent tokens (default 32). */
  readonly window?: number;
  /** The policy that receives tokens as they leave the window. */
  readonly middle: PolicyChoice;
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
    params: { sinks: options.sinks ?? 4, window: options.window ?? 32, middle: options.middle },
  };
}

/**
 * The sinks and window a budget holds at its smallest, leaving the middle at least one row: the
 * requested sizes for budgets that grow with the stream (the caps then follow the budget token by
 * token), shrunk once for fixed budgets.
 */
function fixedTiers(budget: Budget | undefined, sinks: number, window: number, rowBytes: number, d: number, s: number): { sinks: number; window: number } {
  if (budget === undefined || (typeof budget === 'object' && ('ratio' in budget || 'fraction' in budget))) return { sinks, window };
  const rows = isByteBudget(budget) ? Math.floor(budgetBytes(budget, 0, d, s) / rowBytes) : budgetBytes(budget, 0, d, s) / (4 * (d + s));
  const kept = Math.min(sinks, Math.max(0, rows - 1));
  return { sinks: kept, window: Math.min(window, Math.max(0, rows - kept - 1)) };
}

/**
 * Exact sinks, an exact ring-buffer window, and a middle sub-policy fed the tokens that leave the
 * window. Answers merge the three parts' kernel sums by log-sum-exp, so with an exact middle it is
 * exact attention.
 *
 * @remarks
 * Budget: the sinks and the window are float32 rows with positions; the middle gets what they
 * leave (core's `partBudget`, with the middle's stream shifted by sinks + window so a fraction stays
 * a fraction of the whole stream). Sinks and window must fit too:
 * - a fixed budget (tokens or `{bytes}`) too small for them shrinks them once at creation, keeping
 *   at least one row for the middle;
 * - a `{fraction}` budget caps them token by token at what the budget holds so far, so early in a
 *   stream the window is shorter (the middle holds nothing yet) and grows back to its size;
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
  /** Window tokens asked for. */
  readonly windowSize: number;
  /** The middle sub-cache. */
  readonly middle: HeadCache;
  private readonly sinkMax: number;
  private readonly windowMax: number;
  private readonly growing: boolean;
  private readonly sinks: SlotStore;
  private readonly window: SlotStore;
  private readonly windowPositions: Int32Array;
  /** Slot of the oldest window token (the ring's start). */
  private head = 0;
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
    this.windowSize = integerParam(spec.params, 'window', { default: 32, min: 0 });
    const middleChoice = choiceParamOf(spec.params, 'middle');
    // Sinks keep their positions (they are not implicit once a late sink joins); the window keeps
    // its own ring of positions.
    const rowBytes = new SlotStore(d, s, { maxSlots: 0, initialSlots: 0 }).perRowBytes;
    const tiers = fixedTiers(spec.budget, this.sinkCount, this.windowSize, rowBytes, d, s);
    this.sinkMax = tiers.sinks;
    this.windowMax = tiers.window;
    this.growing = typeof spec.budget === 'object' && 'fraction' in spec.budget;
    this.sinks = new SlotStore(d, s, { maxSlots: this.sinkMax, initialSlots: Math.min(this.sinkMax, 16) });
    this.window = new SlotStore(d, s, { maxSlots: this.windowMax, initialSlots: Math.min(this.windowMax, 16), positions: false });
    this.windowPositions = new Int32Array(this.windowMax);
    const reserved = this.sinkMax + this.windowMax;
    const middleBudget = partBudget(spec.budget, { reservedRows: reserved, reservedRowBytes: rowBytes, seenShift: reserved }, d, s);
    this.middle = createPart(registry, spec, middleChoice, 0, middleBudget);
    this.partial = createKernelSums(s);
    this.keyRow = new Float32Array(d);
    this.valueRow = new Float32Array(s);
  }

  /** Sinks + window + the middle's stored token-equivalents. */
  get stored(): number {
    return this.sinks.count + this.window.count + this.middle.stored;
  }

  /** Sinks + window the budget holds now + the middle's capacity. */
  override get capacity(): number {
    return this.sinkCap(this.seen) + this.windowCap(this.seen, this.sinks.count) + this.middle.capacity;
  }

  /** Bytes of the sink and window rows (with positions) plus the middle's. */
  override get bytes(): number {
    return this.sinks.heldBytes + this.window.heldBytes + 4 * this.window.count + this.middle.bytes;
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
    const mid = this.middle.positions?.() ?? new Int32Array(0);
    const out = new Int32Array(this.sinks.count + this.window.count + mid.length);
    out.set(this.sinks.positions(), 0);
    out.set(this.windowPositions.subarray(0, this.window.count), this.sinks.count);
    out.set(mid, this.sinks.count + this.window.count);
    return out;
  }

  /** Rows of the whole budget after `seen` tokens (Infinity for token counts without bytes). */
  private budgetRows(seen: number): number {
    if (!this.growing) return Infinity;
    return Math.floor(budgetBytes(this.spec.budget, seen, this.keyDim, this.valueDim) / this.sinks.perRowBytes);
  }

  private sinkCap(seen: number): number {
    return Math.min(this.sinkMax, this.budgetRows(seen));
  }

  private windowCap(seen: number, sinks: number): number {
    return Math.max(0, Math.min(this.windowMax, this.budgetRows(seen) - sinks));
  }

  protected onAppend(key: Float32Array, value: Float32Array, position: number): void {
    const seen = position + 1;
    if (position < this.sinkCount && this.sinks.count < this.sinkCap(seen)) {
      this.sinks.push(key, 0, value, 0, position, 0);
      return;
    }
    const cap = this.windowCap(seen, this.sinks.count);
    const win = this.window;
    if (win.count < cap) {
      if (this.head !== 0) this.unwrap();
      this.windowPositions[win.push(key, 0, value, 0, position, 0)] = position;
      return;
    }
    if (win.count === 0) {
      this.middle.append(key, value);
      return;
    }
    // Ring buffer: the oldest window token leaves for the sinks (a sink position the budget could
    // not hold when it arrived) or the middle, and the new token takes its slot.
    const slot = this.head;
    win.readKey(slot, this.keyRow);
    win.readValue(slot, this.valueRow);
    const leaving = this.windowPositions[slot]!;
    if (leaving < this.sinkCount && this.sinks.count < this.sinkCap(seen)) this.sinks.push(this.keyRow, 0, this.valueRow, 0, leaving, 0);
    else this.middle.append(this.keyRow, this.valueRow);
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
    if (this.middle.seen > 0) mergeSums(out, this.middle.sums(query, this.partial));
    return out;
  }

  protected onReset(): void {
    this.sinks.clear();
    this.window.clear();
    this.head = 0;
    this.middle.reset();
  }

  protected saveState(): CacheState {
    return {
      scalars: { head: this.head },
      arrays: { windowPositions: this.windowPositions.subarray(0, this.window.count) },
      parts: { sinks: this.sinks.state(), window: this.window.state(), middle: this.middle.state() },
    };
  }

  protected restoreState(r: StateReader): void {
    this.sinks.loadState(r.part('sinks'));
    this.window.loadState(r.part('window'));
    this.windowPositions.set(r.array('windowPositions', Int32Array, this.window.count));
    this.head = r.integer('head', 0, Math.max(0, this.window.count - 1));
    this.middle.loadState(r.part('middle').state);
  }

  protected override describeSummary(): string {
    const shrunk = this.sinkMax < this.sinkCount || this.windowMax < this.windowSize ? `, shrunk from ${this.sinkCount} + ${this.windowSize} to fit the budget` : '';
    const early = this.growing && this.window.count < this.windowMax && this.middle.seen > 0 ? ' (the budget holds a shorter window so far)' : '';
    return `tiered: ${this.sinks.count}/${this.sinkMax} sinks + ${this.window.count}/${this.windowMax} window${early}${shrunk}; middle ${this.middle.describe().summary}`;
  }

  protected override describeStats(): Record<string, number | string | boolean> {
    return {
      sinks: this.sinks.count,
      window: this.window.count,
      sinkSize: this.sinkMax,
      windowSize: this.windowMax,
      shrunk: this.sinkMax < this.sinkCount || this.windowMax < this.windowSize,
      middleRows: this.middle.stored,
      middleBytes: this.middle.bytes,
    };
  }

  protected override describeParts(): CacheDescription[] {
    return [this.middle.describe()];
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
    { name: 'window', type: 'integer', default: 32, description: 'exact most-recent tokens' },
    { name: 'middle', type: 'spec', description: 'policy choice for the tokens leaving the window' },
  ],
  budget: 'optional',
  create: (spec, registry) => new TieredCache(spec, registry),
};
