import {
  BaseHeadCache,
  createKernelSums,
  integerParam,
  InvalidBudgetError,
  InvalidParamsError,
  type KernelSums,
  mergeSums,
  numberParam,
  type PolicyDefinition,
  type PolicySpec,
  SlotStore,
} from '@kv/core';
import { BalancedHalving } from './balanced-halving.js';
import { MergeAndReduce } from './merge-and-reduce.js';

// Rows the groups may need after the budget forced every possible merge: at most one row per
// weight level 2^0..2^31.
const GROUP_ROOM = 32;

/**
 * BalanceKV, practical version (the authors' released code, made streaming): the first `sink`
 * tokens and the last `window` tokens are kept exactly; a token leaving the window joins a middle
 * block; a full block of `blockSize` tokens is halved `halvings` times by {@link BalancedHalving}
 * (block-centred keys, kernel e^{<k̃,k̃'>τ}·(<v,v'> + 0.025), γ = 4, unclipped probabilities, exact
 * halving) and stored as a group of blockSize/2^halvings rows of weight 2^halvings, applied as the
 * logit bias ln w.
 *
 * @remarks
 * - Without a budget the middle keeps exactly 1/2^halvings of its tokens (the released code's
 *   `itrs` knob), plus the open block: memory grows as n/2^halvings.
 * - With a budget (tokens, or a ratio whose `min` is large enough) groups are merged lazily,
 *   merge-and-reduce style: whenever a flushed block would leave too little room, the two
 *   lowest-weight groups are concatenated and halved again, so `stored ≤ capacity` at every step.
 *   Halvings only ever see rows of equal weight, so weights stay exact; the budget must hold
 *   sink + window + (blockSize − 1) + 32 rows (32: one row per weight level of any stream with
 *   Int32 positions, the most that exact halving may be unable to merge).
 * - No theorem: an empirical policy (see the package benchmark for its error against uniform sampling).
 * - Differences from the released code: it compresses the prompt once at prefill; here the same
 *   halving runs block by block as tokens stream. Kept rows all double their weight (see
 *   {@link BalancedHalving}).
 * @see ksheth96/BalanceKV `src/balanced_walk.py`, `src/llama_forward.py`; arXiv 2502.07861.
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { balanceKVPolicy } from '@kv/coreset';
 * const registry = new PolicyRegistry().register(balanceKVPolicy);
 * const cache = registry.create({ policy: 'balancekv', keyDim: 128, valueDim: 128, params: { halvings: 2 } });
 * ```
 */
export class BalanceKV extends BaseHeadCache {
  /** Exact leading tokens. */
  readonly sink: number;
  /** Exact trailing tokens. */
  readonly window: number;
  /** Middle block size. */
  readonly blockSize: number;
  /** Halvings of a full block. */
  readonly halvings: number;
  private readonly sinks: SlotStore;
  private readonly recent: SlotStore;
  private oldest = 0;
  private readonly middle: MergeAndReduce;
  private readonly budgeted: boolean;
  private readonly part: KernelSums;

  /**
   * @param spec - Spec with params sink, window, blockSize, halvings, gamma, valueConstant.
   * @throws `InvalidParamsError` on bad parameters; `InvalidBudgetError` when a budget
   *   cannot hold the exact parts, an open block and one group.
   */
  constructor(spec: PolicySpec) {
    super(spec);
    const p = spec.params;
    this.sink = integerParam(p, 'sink', { default: 32, min: 0 });
    this.window = integerParam(p, 'window', { default: 32, min: 0 });
    this.blockSize = integerParam(p, 'blockSize', { default: 128, min: 2 });
    this.halvings = integerParam(p, 'halvings', { default: 2, min: 1 });
    if (this.blockSize % 2 ** this.halvings !== 0) {
      throw new InvalidParamsError(`blockSize ${this.blockSize} must be divisible by 2^halvings = ${2 ** this.halvings}`);
    }
    const gamma = numberParam(p, 'gamma', { default: 4, min: 0 });
    const valueConstant = numberParam(p, 'valueConstant', { default: 0.025, min: 0 });
    const need = this.sink + this.window + this.blockSize - 1 + GROUP_ROOM;
    const b = spec.budget;
    this.budgeted = b !== undefined;
    if (b !== undefined) {
      const floor = typeof b === 'number' ? b : 'tokens' in b ? b.tokens : (b.min ?? 1);
      if (floor < need) {
        throw new InvalidBudgetError(
          `balancekv needs a budget (or ratio min) of at least sink + window + blockSize − 1 + ${GROUP_ROOM} = ${need}, got ${floor}`,
        );
      }
    }
    this.sinks = new SlotStore(this.keyDim, this.valueDim, { maxSlots: this.sink, initialSlots: Math.min(2, this.sink) });
    this.recent = new SlotStore(this.keyDim, this.valueDim, { maxSlots: this.window, initialSlots: Math.min(2, this.window) });
    const halver = new BalancedHalving({ tau: this.tau, gamma, valueConstant });
    this.middle = new MergeAndReduce(this.keyDim, this.valueDim, halver, spec.seed ?? 0, {
      blockSize: this.blockSize,
      firstHalvings: this.halvings,
      carry: 'lazy',
    });
    this.part = createKernelSums(this.valueDim);
  }

  /** Sinks + window + middle rows. */
  get stored(): number {
    return this.sinks.count + this.recent.count + this.middle.stored;
  }

  /** Tokens the held rows stand for (Σ of weights): always equals `seen`. */
  get representedTokens(): number {
    return this.sinks.count + this.recent.count + this.middle.totalWeight;
  }

  /** Rows of the compressed middle (open block and groups). */
  get middleStored(): number {
    return this.middle.stored;
  }

  /** Arrays of the sinks, the window and the middle. */
  buffers(): readonly ArrayBufferView[] {
    return [...this.sinks.buffers(), ...this.recent.buffers(), ...this.middle.buffers()];
  }

  /** Positions of the held rows (sinks, window, middle). */
  positions(): Int32Array {
    const out = new Int32Array(this.stored);
    out.set(this.sinks.positionOf.subarray(0, this.sinks.count), 0);
    out.set(this.recent.positionOf.subarray(0, this.recent.count), this.sinks.count);
    this.middle.writePositions(out, this.sinks.count + this.recent.count);
    return out;
  }

  /**
   * Sinks first, then the window ring; the evicted window row joins the middle.
   * @param key - Key.
   * @param value - Value.
   * @param position - Logical position.
   */
  protected onAppend(key: Float32Array, value: Float32Array, position: number): void {
    if (this.sinks.count < this.sink) {
      this.sinks.push(key, 0, value, 0, position, 0);
      return;
    }
    let flushed: boolean;
    if (this.window === 0) {
      flushed = this.middle.push(key, 0, value, 0, position);
    } else if (this.recent.count < this.window) {
      this.recent.push(key, 0, value, 0, position, 0);
      return;
    } else {
      const slot = this.oldest;
      const r = this.recent;
      flushed = this.middle.push(r.keys, slot * this.keyDim, r.values, slot * this.valueDim, r.positionOf[slot]!);
      r.write(slot, key, 0, value, 0, position, 0);
      this.oldest = (slot + 1) % this.window;
    }
    if (flushed && this.budgeted) {
      this.middle.reduceTo(this.capacity - this.sink - this.window - (this.blockSize - 1));
    }
  }

  /**
   * Exact sums of sinks and window merged with the weighted middle.
   * @param query - Query.
   * @param out - Receives the sums.
   * @returns `out`.
   */
  protected onSums(query: Float32Array, out: KernelSums): KernelSums {
    this.sinks.sums(query, this.tau, out);
    mergeSums(out, this.recent.sums(query, this.tau, this.part));
    return mergeSums(out, this.middle.sums(query, this.tau, this.part));
  }

  /** Forgets every token. */
  protected onReset(): void {
    this.sinks.clear();
    this.recent.clear();
    this.oldest = 0;
    this.middle.reset();
  }
}

/**
 * Registry entry of {@link BalanceKV} (`balancekv`).
 *
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { balanceKVPolicy } from '@kv/coreset';
 * new PolicyRegistry().register(balanceKVPolicy);
 * ```
 */
export const balanceKVPolicy: PolicyDefinition = {
  name: 'balancekv',
  summary: 'BalanceKV (released-code variant): exact sinks and window, middle blocks halved by a balanced walk; weights as logit biases. Empirical, no theorem.',
  params: [
    { name: 'sink', type: 'integer', default: 32, description: 'Leading tokens kept exactly.' },
    { name: 'window', type: 'integer', default: 32, description: 'Trailing tokens kept exactly.' },
    { name: 'blockSize', type: 'integer', default: 128, description: 'Middle block size (divisible by 2^halvings).' },
    { name: 'halvings', type: 'integer', default: 2, description: 'Halvings of a full block (the middle keeps 1/2^halvings without a budget).' },
    { name: 'gamma', type: 'number', default: 4, description: 'Walk step size γ.' },
    { name: 'valueConstant', type: 'number', default: 0.025, description: 'Constant added to <v,v\'> in the walk kernel.' },
  ],
  budget: 'optional',
  create: (spec) => new BalanceKV(spec),
};
