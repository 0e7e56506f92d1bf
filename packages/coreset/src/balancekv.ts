import {
  BaseHeadCache,
  booleanParam,
  type ByteCost,
  choiceParam,
  type CacheState,
  capacityRows,
  createKernelSums,
  integerParam,
  InvalidParamsError,
  isByteBudget,
  type KernelSums,
  mergeSums,
  numberParam,
  type PolicyDefinition,
  type PolicySpec,
  parsePrecision,
  precisionParam,
  type StateReader,
} from '@kv/core';
import { BalancedHalving } from './balanced-halving.js';
import { budgetFloorRows, fitEdges } from './edge-budget.js';
import { ExactEdges } from './edges.js';
import { MergeAndReduce } from './merge-and-reduce.js';
import { RandomHalving } from './random-halving.js';

/**
 * The block of a budgeted middle of `middleRows` rows at its floor: `share` of it (even, at least 2).
 * Why a share: each on-demand halving frees about a block of rows at once, and the open block holds
 * the newest middle tokens exactly. Whole-floor blocks (share 1, the default) act as an extension
 * of a short window; behind a window that already holds the recent tokens (a `tiered` middle,
 * `sink: 0, window: 0`), a quarter keeps the budget fuller (0.99 of its bytes on average, against
 * 0.95–0.97) and BalanceKV's middle at 0.85× the error of a uniform middle at 1/2 of the bytes
 * (1.33× with share 1; 48 real-attention heads × 3 seeds, issue 17).
 */
function budgetedBlock(middleRows: number, share: number): number {
  return Math.max(2, 2 * Math.floor((share * middleRows) / 2));
}

/**
 * BalanceKV, practical version (the authors' released code, made streaming): the first `sink`
 * tokens and the last `window` tokens are kept exactly; a token leaving the window joins a middle
 * block; the middle is compressed by {@link BalancedHalving} (block-centred keys, kernel
 * e^{<k̃,k̃'>τ}·(<v,v'> + 0.025), γ = 4, unclipped probabilities, exact halving), each halving
 * doubling the weights of the rows it keeps, applied as the logit bias ln w.
 *
 * @remarks
 * - Without a budget a full block of `blockSize` tokens is halved `halvings` times (the released
 *   code's `itrs` knob): the middle keeps 1/2^halvings of its tokens plus the open block.
 * - With a budget (tokens, ratio, `{bytes}` or `{fraction}`) nothing is halved before the budget
 *   asks for it: full blocks become weight-1 groups, and whenever the cache would hold more than
 *   its budget the lowest weight level is halved, merge-and-reduce style
 *   ({@link MergeAndReduce.compressOnce}), so the held bytes stay within the budget after every
 *   append and each token is halved as few times as the budget allows. When no equal-weight
 *   halving is left (at most one row per level) rows of different weights are halved together,
 *   and as a last resort the lightest row is dropped; both are counted in `describe()`.
 * - No floors: sinks, window and block size are sized from the smallest budget the cache will get.
 *   Sinks and window given as params are kept while a middle of a few rows still fits (else both
 *   shrink in proportion); default ones, when they do not fit with a full block, leave half of
 *   that floor to the middle. The block is at most `blockShare` of the middle's floor (default
 *   1; 0.25 for a middle behind its own window, see `budgetedBlock`); `describe()` says what was
 *   chosen.
 * - No theorem: an empirical policy (see the package benchmark for its error against uniform sampling).
 * - Differences from the released code: it compresses the prompt once at prefill; here the same
 *   halving runs as tokens stream. Kept rows all double their weight (see {@link BalancedHalving}).
 * @see ksheth96/BalanceKV `src/balanced_walk.py`, `src/llama_forward.py`; arXiv 2502.07861.
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { balanceKVPolicy } from '@kv/coreset';
 * const registry = new PolicyRegistry().register(balanceKVPolicy);
 * const cache = registry.create({ policy: 'balancekv', keyDim: 128, valueDim: 128, budget: { fraction: 1 / 8 } });
 * ```
 */
export class BalanceKV extends BaseHeadCache {
  /** Exact leading tokens (after fitting the budget). */
  readonly sink: number;
  /** Exact trailing tokens (after fitting the budget). */
  readonly window: number;
  /** Middle block size (after fitting the budget). */
  readonly blockSize: number;
  /** Halvings of a full block without a budget (0 with a budget: halvings happen on demand). */
  readonly halvings: number;
  /** Whether the requested sinks, window or block were shrunk to fit the budget. */
  readonly shrunk: boolean;
  private readonly edgesShrunk: boolean;
  private readonly edges: ExactEdges;
  private readonly middle: MergeAndReduce;
  private readonly budgeted: boolean;
  private readonly byBytes: boolean;
  private readonly part: KernelSums;

  /**
   * @param spec - Spec with params sink, window, blockSize, blockShare, halvings, gamma, valueConstant.
   * @throws `InvalidParamsError` on bad parameters.
   */
  constructor(spec: PolicySpec) {
    super(spec);
    const p = spec.params;
    const d = this.keyDim;
    const s = this.valueDim;
    const sink = integerParam(p, 'sink', { default: 32, min: 0 });
    const window = integerParam(p, 'window', { default: 32, min: 0 });
    const blockSize = integerParam(p, 'blockSize', { default: 128, min: 2 });
    const halvings = integerParam(p, 'halvings', { default: 2, min: 1 });
    if (blockSize % 2 ** halvings !== 0) {
      throw new InvalidParamsError(`blockSize ${blockSize} must be divisible by 2^halvings = ${2 ** halvings}`);
    }
    const gamma = numberParam(p, 'gamma', { default: 4, min: 0 });
    const valueConstant = numberParam(p, 'valueConstant', { default: 0.025, min: 0 });
    const centre = booleanParam(p, 'centre', true);
    const kernelScale = numberParam(p, 'kernelScale', { default: 1, min: Number.MIN_VALUE, max: 1e6 });
    const halving = choiceParam(p, 'halving', ['balanced', 'random'] as const, 'balanced');
    const blockShare = numberParam(p, 'blockShare', { default: 1, min: Number.MIN_VALUE, max: 1 });
    this.budgeted = spec.budget !== undefined;
    this.byBytes = isByteBudget(spec.budget);
    const precision = parsePrecision(p?.['precision'], 'balancekv params');
    const seed = spec.seed ?? 0;
    const probe = new ExactEdges(d, s, 0, 0, precision, seed);
    const floor = budgetFloorRows(spec.budget, probe.rowBytes, d, s);
    const explicitEdges = p?.['sink'] !== undefined || p?.['window'] !== undefined;
    if (!this.budgeted) {
      this.sink = sink;
      this.window = window;
      this.blockSize = blockSize;
      this.shrunk = false;
      this.edgesShrunk = false;
    } else {
      // Sizes the caller chose are kept while a middle of a few rows fits; default ones give the
      // middle half of the floor.
      const fit =
        sink + window + blockSize <= floor
          ? { sink, window, shrunk: false }
          : fitEdges(floor, sink, window, explicitEdges ? Math.min(4, Math.max(2, floor - sink - window)) : Math.ceil(floor / 2));
      this.sink = fit.sink;
      this.window = fit.window;
      this.blockSize = Math.min(blockSize, budgetedBlock(floor - fit.sink - fit.window, blockShare));
      this.shrunk = fit.shrunk || this.blockSize < blockSize;
      this.edgesShrunk = fit.shrunk;
    }
    this.halvings = this.budgeted ? 0 : halvings;
    this.edges = new ExactEdges(d, s, this.sink, this.window, precision, seed);
    const halver = halving === 'random' ? new RandomHalving() : new BalancedHalving({ tau: this.tau * kernelScale, gamma, valueConstant, centre });
    this.middle = new MergeAndReduce(d, s, halver, seed, { blockSize: this.blockSize, firstHalvings: this.halvings, carry: 'lazy', precision });
    this.part = createKernelSums(s);
  }

  /** Sinks + window + middle rows. */
  get stored(): number {
    return this.edges.rows + this.middle.stored;
  }

  /** Bytes held: exact rows, middle rows, group sizes. */
  override get bytes(): number {
    return this.edges.heldBytes + this.middle.heldBytes;
  }

  /** Tokens the held rows stand for (Σ of weights): equals `seen` unless a budget forced mixed halvings or drops. */
  get representedTokens(): number {
    return this.edges.rows + this.middle.totalWeight;
  }

  /** Rows of the compressed middle (open block and groups). */
  get middleStored(): number {
    return this.middle.stored;
  }

  protected override byteCost(): ByteCost {
    return { fixed: 0, perRow: this.edges.rowBytes };
  }

  /** Positions of the held rows (sinks, window, middle). */
  positions(): Int32Array {
    const out = new Int32Array(this.stored);
    this.middle.writePositions(out, this.edges.writePositions(out, 0));
    return out;
  }

  protected onAppend(key: Float32Array, value: Float32Array, position: number): void {
    const e = this.edges;
    const where = e.admit(key, value, position);
    if (where === 'kept') return;
    if (where === 'through') this.middle.push(key, 0, value, 0, position);
    else this.middle.push(e.leavingKey, 0, e.leavingValue, 0, e.leavingPosition);
    if (this.budgeted) this.fit(position + 1);
  }

  // Compresses the middle until the cache is within its budget at `seen` tokens.
  private fit(seen: number): void {
    if (this.byBytes) {
      const limit = this.budgetBytesAt(seen);
      while (this.bytes > limit && this.middle.compressOnce() > 0);
    } else {
      const limit = capacityRows(this.spec.budget, seen, this.byteCost(), this.keyDim, this.valueDim);
      while (this.stored > limit && this.middle.compressOnce() > 0);
    }
  }

  protected onSums(query: Float32Array, out: KernelSums): KernelSums {
    this.edges.sums(query, this.tau, out);
    return mergeSums(out, this.middle.sums(query, this.tau, this.part));
  }

  protected onReset(): void {
    this.edges.clear();
    this.middle.reset();
  }

  protected saveState(): CacheState {
    return { scalars: {}, arrays: {}, parts: { edges: this.edges.state(), middle: this.middle.state() } };
  }

  protected restoreState(r: StateReader): void {
    this.edges.loadState(r.part('edges'));
    this.middle.loadState(r.part('middle'));
  }

  protected override describeSummary(): string {
    const m = this.middle;
    const how = this.budgeted ? 'halved on demand to fit the budget' : `each block halved ${this.halvings} times`;
    return `balancekv: ${this.sink} sinks + ${this.window} window exact${this.edgesShrunk ? ' (shrunk to fit the budget)' : ''}, middle of ${m.stored} rows in blocks of ${this.blockSize}${this.shrunk && !this.edgesShrunk ? ' (shrunk to fit the budget)' : ''}, ${how} (top weight 2^${m.topLevel})`;
  }

  protected override describeStats(): Record<string, number | string | boolean> {
    const m = this.middle;
    return {
      sinks: this.sink,
      window: this.window,
      blockSize: this.blockSize,
      shrunk: this.shrunk,
      middleRows: m.stored,
      groups: m.groupTotal,
      topLevel: m.topLevel,
      halvings: m.halvings,
      mixedHalvings: m.mixedHalvings,
      droppedTokens: m.droppedWeight,
      precision: m.precisionLabel,
    };
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
  summary: 'BalanceKV (released-code variant): exact sinks and window, middle halved by a balanced walk (on demand under a budget); weights as logit biases. Empirical, no theorem.',
  params: [
    { name: 'sink', type: 'integer', default: 32, description: 'Leading tokens kept exactly (shrunk when the budget is smaller).' },
    { name: 'window', type: 'integer', default: 32, description: 'Trailing tokens kept exactly (shrunk when the budget is smaller).' },
    { name: 'blockSize', type: 'integer', default: 128, description: 'Middle block size (divisible by 2^halvings; under a budget at most blockShare of the middle\'s floor).' },
    { name: 'blockShare', type: 'number', default: 1, description: "Under a budget, the block's largest share in (0, 1] of the middle's floor rows: 1 keeps the newest middle tokens exact in a large open block (right behind a short window); 0.25 keeps the budget fuller (right for a middle behind its own window, e.g. in tiered)." },
    { name: 'halvings', type: 'integer', default: 2, description: 'Halvings of a full block without a budget (the middle keeps 1/2^halvings).' },
    { name: 'gamma', type: 'number', default: 4, description: 'Walk step size γ.' },
    { name: 'valueConstant', type: 'number', default: 0.025, description: 'Constant added to <v,v\'> in the walk kernel.' },
    { name: 'halving', type: 'string', default: 'balanced', description: "Halving rule: 'balanced' (the walk) or 'random' (the ablation baseline: a uniformly random half)." },
    { name: 'kernelScale', type: 'number', default: 1, description: "Scale β of the walk kernel's logit, e^{β·τ<k̃,k̃'>} (the released code's temp; below 1 the walk balances a smoother kernel)." },
    { name: 'centre', type: 'boolean', default: true, description: 'Centre the keys of each halved batch (exact for attention; shrinks the walk kernel).' },
    precisionParam,
  ],
  budget: 'optional',
  create: (spec) => new BalanceKV(spec),
};
