import { InvalidParamsError, type KernelSums, type SlotStore } from '@kv/core';
import { type Halver, MergeAndReduce, type RowKernel } from '@kv/coreset';
import { logAbsResidual, residualSign } from './residual-exp.js';

/**
 * The residual kernel exp_{>t}(<q,k>τ) = Σ_{ℓ>t} (<q,k>τ)^ℓ/ℓ! as a `RowKernel` (from
 * `@kv/coreset`): Σ_i w_i·exp_{>t}(<q,k_i>τ)·[1, v_i] over a store's rows in one pass with an online
 * log-sum-exp (the scale m rises as larger terms arrive), so a query needs no per-row scratch.
 * z and n may be negative: exp_{>t} is negative for negative arguments when t is even.
 *
 * @example
 * ```ts
 * import { createKernelSums, SlotStore } from '@kv/core';
 * import { ResidualKernel } from '@kv/hybrid';
 * const store = new SlotStore(2, 1);
 * store.push([1, 0], 0, [2], 0, 0, 0);
 * const out = new ResidualKernel(1).sums(store, new Float32Array([1, 0]), 1, createKernelSums(1));
 * out.z * Math.exp(out.m); // e − 1 − 1 ≈ 0.718
 * ```
 */
export class ResidualKernel implements RowKernel {
  /** Taylor degree t. */
  readonly degree: number;
  /**
   * Evaluate the full exponential kernel e^{<q,k>τ} instead of the residual (the weighted rows as
   * a plain sample: the fallback of {@link TaylorCoresetCache} far outside its assumptions).
   */
  full = false;

  /**
   * @param degree - Taylor degree t (an integer ≥ 0).
   * @throws `InvalidParamsError` (from `@kv/core`) for a negative or fractional degree.
   */
  constructor(degree: number) {
    if (!Number.isInteger(degree) || degree < 0) throw new InvalidParamsError(`degree is ${degree}, expected an integer >= 0`);
    this.degree = degree;
  }

  private value = new Float64Array(0);

  /** Sizes the value scratch for a store of value dimension `s`. */
  private scratchFor(s: number): void {
    if (this.value.length !== s) this.value = new Float64Array(s);
  }

  /**
   * Σ_i w_i·exp_{>t}(<q,k_i>τ)·[1, v_i] over the live rows of `store`, log-scaled.
   * @param store - The rows (weights e^{logWeights[i]}, or 1 when the store is unweighted).
   * @param query - Query of length d.
   * @param tau - Logit scale.
   * @param out - Receives the sums (z and n may be negative).
   * @returns `out`.
   */
  sums(store: SlotStore, query: Float32Array, tau: number, out: KernelSums): KernelSums {
    if (this.full) return store.sums(query, tau, out);
    const { s, weighted } = store;
    const t = this.degree;
    const n = out.n;
    n.fill(0);
    out.m = -Infinity;
    out.z = 0;
    this.scratchFor(s);
    for (let i = 0; i < store.count; i++) {
      const arg = tau * store.keyDot(i, query);
      const sign = residualSign(arg, t);
      if (sign === 0) continue;
      const l = logAbsResidual(arg, t) + (weighted ? store.logWeight(i) : 0);
      if (l > out.m) {
        const a = out.m === -Infinity ? 0 : Math.exp(out.m - l);
        out.z *= a;
        for (let j = 0; j < s; j++) n[j]! *= a;
        out.m = l;
      }
      const w = sign * Math.exp(l - out.m);
      if (w === 0) continue;
      out.z += w;
      store.readValue(i, this.value);
      for (let j = 0; j < s; j++) n[j]! += w * this.value[j]!;
    }
    return out;
  }
}

/**
 * A weighted merge-and-reduce coreset (the `MergeAndReduce` binary counter of `@kv/coreset`)
 * evaluated with the residual kernel exp_{>t}(<q,k>τ) ({@link ResidualKernel}) instead of
 * e^{<q,k>τ}, with an optional cap on its group rows at every flush.
 *
 * @remarks
 * - Structure: `MergeAndReduce` with `carry: 'binary'` and `kernel: new ResidualKernel(t)`; a flush
 *   of a raw block that leaves more group rows than the cap given to {@link ResidualCoreset.push}
 *   is followed by `reduceTo(cap, true)`.
 * - Memory: a t-row raw block and the groups: at most t/2 rows per occupied weight level
 *   (≤ t·(log2(n/t) + 1) rows), or at most the cap.
 * - Weights need not sum to n: the walk balances the residual features, which have no constant
 *   component, so the kept (smaller) sign class may hold fewer than half the rows; what the walk
 *   keeps close is Σ w_i·exp_{>t}(<q,k_i>τ)·[1, v_i], the only quantity the estimator uses.
 * @example
 * ```ts
 * import { createKernelSums } from '@kv/core';
 * import { ResidualBalance, ResidualCoreset } from '@kv/hybrid';
 * const halver = new ResidualBalance({ tau: 1, degree: 2, walkConstant: 1 });
 * const coreset = new ResidualCoreset(2, 1, 2, halver, 1, { blockSize: 8 });
 * for (let i = 0; i < 64; i++) coreset.push(new Float32Array([Math.cos(i), Math.sin(i)]), 0, new Float32Array([1]), 0, i);
 * coreset.sums(new Float32Array([1, 0]), 1, createKernelSums(1));
 * ```
 */
export class ResidualCoreset extends MergeAndReduce {
  /** Taylor degree t of the residual kernel. */
  readonly degree: number;
  /** The kernel the coreset is evaluated with (switchable to the full exponential). */
  readonly residual: ResidualKernel;

  /**
   * @param d - Key dimension.
   * @param s - Value dimension.
   * @param degree - Taylor degree t.
   * @param halver - Halving rule (normally {@link ResidualBalance}).
   * @param seed - Seed of the halvings.
   * @param options - `blockSize` (even ≥ 2).
   * @throws `InvalidParamsError` (from `@kv/core`) for a bad block size or degree.
   */
  constructor(d: number, s: number, degree: number, halver: Halver, seed: number, options: { blockSize: number }) {
    const kernel = new ResidualKernel(degree);
    super(d, s, halver, seed, { blockSize: options.blockSize, kernel });
    this.degree = degree;
    this.residual = kernel;
  }

  /**
   * Adds one token of weight 1; a full raw block is halved and carried, then the groups are
   * reduced to at most `maxGroupRows`.
   * @param key - Key storage.
   * @param keyOffset - Index of the key's first element.
   * @param value - Value storage.
   * @param valueOffset - Index of the value's first element.
   * @param position - Logical position.
   * @param maxGroupRows - Cap on the group rows after a flush (default none; at least blockSize/2).
   * @returns Whether the raw block was flushed into a group.
   * @throws `InvalidInputError` or `UnsupportedError` (from `@kv/core`) from the stores, on a key or value they cannot hold.
   */
  override push(key: Float32Array, keyOffset: number, value: Float32Array, valueOffset: number, position: number, maxGroupRows = Infinity): boolean {
    const flushed = super.push(key, keyOffset, value, valueOffset, position);
    if (flushed && this.groupSlots > maxGroupRows) this.reduceTo(Math.max(this.blockSize / 2, maxGroupRows), true);
    return flushed;
  }
}
