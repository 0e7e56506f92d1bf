import {
  BaseHeadCache,
  booleanParam,
  budgetBytes,
  type ByteCost,
  type CacheState,
  createKernelSums,
  dotUnit,
  integerParam,
  type KernelSums,
  maxRows,
  numberParam,
  type PolicyDefinition,
  type PolicySpec,
  type StateReader,
} from '@kv/core';
import { storeLimit } from './edge-budget.js';
import { KeyClusters } from './key-clusters.js';
import { combineSeparateSums } from './separate-sums.js';
import { WeightedSample } from './weighted-sample.js';

/**
 * SubGen (arXiv 2402.06082), streaming: Z is estimated by online clustering of keys
 * ({@link KeyClusters}: a key joins the nearest centre within `clusterRadius` δ or opens a new one;
 * each cluster keeps its count and a reservoir of t keys), N by ℓ₂ sampling of (k, v): a
 * priority sample ({@link WeightedSample}) with weights ||v||², each kept token standing for
 * max(||v||², τ)/||v||² tokens.
 *
 * @remarks
 * - Both estimators are unbiased given the clustering. The paper's guarantee is
 *   ||z − Attn|| ≤ ε·||softmax||₂·||V||_op with t = O(ε^{-2}·e^{2δr}·log n) keys per cluster and
 *   O(ε^{-2}·d) samples, for (m, δ)-clusterable keys. **The constants are unverified**: this is
 *   a documented reconstruction and no theorem is claimed or tested here.
 * - The ℓ₂ sample is drawn without replacement and grows with the budget (the paper draws S
 *   independent samples with replacement, which repeat the heaviest token).
 * - Budget: at any `seen`, a `valueFraction` share of the bytes holds value samples, the rest
 *   clusters (centre, count, size and a full reservoir of t keys each). Any budget form; a budget
 *   too small for one sample or one cluster at the start just holds fewer (the missing keys are
 *   counted as `unclustered`).
 * - **Guard** (`guard`, default true). Ñ and Z̃ come from independent samples, so their ratio is
 *   unbounded: on keys that do not cluster (e.g. the INDEX hard instance: near-orthogonal keys of
 *   large norm, ρ ≈ 20, where every cluster slot overflows) the token that carries the attention
 *   is usually missing from the cluster reservoirs, so Z̃ is e^{−7} of Z or less, while an ℓ₂
 *   sample holding it inflates Ñ. Two corrections, each of which can only move its quantity
 *   toward the truth: Z̃ is raised to the largest single term e^{<q,k_j>τ} of the held value
 *   samples (one real token's term, so ≤ Z), and the answer Ñ/Z̃ is projected onto the ball of
 *   radius max_i ||v_i||, which contains the exact answer. The guarded estimators are biased;
 *   `describe()` counts the corrections, and `guard: false` restores the raw unbiased estimators.
 * - When Ñ/Z̃ is not representable (log scales a double's range apart, or no cluster yet) the
 *   answer falls back to the value samples' own ratio (counted as `fallbacks`); `strict: true`
 *   throws `AssumptionViolatedError` instead.
 * @see Zandieh, Han, Mirrokni, Karbasi, "SubGen: Token Generation in Sublinear Time and Memory", arXiv 2402.06082.
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { subGenPolicy } from '@kv/coreset';
 * const registry = new PolicyRegistry().register(subGenPolicy);
 * const cache = registry.create({ policy: 'subgen', keyDim: 16, valueDim: 16, budget: 256 });
 * ```
 */
export class SubGen extends BaseHeadCache {
  /** Cluster radius δ. */
  readonly clusterRadius: number;
  /** Keys kept per cluster t. */
  readonly samplesPerCluster: number;
  /** Share of the budget held by value samples. */
  readonly valueFraction: number;
  /** Whether the Z floor and the answer projection are applied (see the class remarks). */
  readonly guard: boolean;
  /** Whether an unrepresentable answer throws instead of falling back. */
  readonly strict: boolean;
  /** Queries whose Z̃ was raised to the largest value-sample term (guard). */
  flooredQueries = 0;
  /** Queries whose answer was projected onto the ball of radius max ||v|| (guard). */
  clampedQueries = 0;
  /** Queries answered from the value samples alone because Ñ/Z̃ was not representable. */
  fallbacks = 0;
  private maxValueSquared = 0;
  private readonly clusters: KeyClusters;
  private readonly samples: WeightedSample;
  private readonly zSums: KernelSums = createKernelSums(0);
  private readonly nSums: KernelSums;

  /**
   * @param spec - Spec with a budget and params clusterRadius, samplesPerCluster, valueFraction, guard, strict.
   * @throws `InvalidParamsError` on bad parameters.
   */
  constructor(spec: PolicySpec) {
    super(spec);
    const p = spec.params;
    this.clusterRadius = numberParam(p, 'clusterRadius', { default: 1 / Math.sqrt(this.tau), min: 0 });
    this.samplesPerCluster = integerParam(p, 'samplesPerCluster', { default: 4, min: 1, max: 1 << 16 });
    this.valueFraction = numberParam(p, 'valueFraction', { default: 0.5, min: 0.01, max: 0.99 });
    this.guard = booleanParam(p, 'guard', true);
    this.strict = booleanParam(p, 'strict', false);
    const seed = spec.seed ?? 0;
    this.clusters = new KeyClusters(this.keyDim, this.samplesPerCluster, this.clusterRadius, seed);
    // A budget that never grows sizes the value samples' store once.
    const d = this.keyDim;
    const s = this.valueDim;
    const fixed = Number.isFinite(maxRows(spec.budget, { fixed: 0, perRow: 1 }, d, s)) ? budgetBytes(spec.budget, 0, d, s) : Infinity;
    const rowBytes = new WeightedSample(d, s, 0, 0).rowBytes;
    this.samples = new WeightedSample(d, s, seed + 1, storeLimit(Math.floor((this.valueFraction * fixed) / rowBytes), rowBytes));
    this.nSums = createKernelSums(this.valueDim);
  }

  /** Token-equivalents of the bytes held, ⌈bytes / 4(d+s)⌉. */
  get stored(): number {
    return Math.ceil(this.bytes / (4 * (this.keyDim + this.valueDim)));
  }

  /** Bytes held: clusters and value samples. */
  override get bytes(): number {
    return this.clusters.heldBytes + this.samples.heldBytes;
  }

  /** Number of clusters. */
  get clusterCount(): number {
    return this.clusters.count;
  }

  /** Keys that joined a centre farther than δ because no cluster slot was left. */
  get overflowJoins(): number {
    return this.clusters.overflowJoins;
  }

  protected override byteCost(): ByteCost {
    return { fixed: 0, perRow: 4 * (this.keyDim + this.valueDim) };
  }

  protected override capacityAt(seen: number): number {
    return Math.ceil(this.budgetBytesAt(seen) / (4 * (this.keyDim + this.valueDim)));
  }

  protected onAppend(key: Float32Array, value: Float32Array, position: number): void {
    const budget = this.budgetBytesAt(position + 1);
    const valueBytes = Math.floor(this.valueFraction * budget);
    const w = dotUnit(this.valueDim, value, 0, value, 0);
    if (w > this.maxValueSquared) this.maxValueSquared = w;
    this.clusters.add(key, Math.floor((budget - valueBytes) / this.clusters.clusterBytes));
    this.samples.offer(key, value, w, Math.floor(valueBytes / this.samples.rowBytes));
  }

  protected onSums(query: Float32Array, out: KernelSums): KernelSums {
    const zs = this.clusters.sums(query, this.tau, this.zSums);
    const ns = this.samples.sums(query, this.tau, this.nSums);
    if (this.guard && this.samples.count > 0) {
      // Z ≥ e^{top}: every value sample is a real token of the stream.
      const top = this.samples.maxLogit(query, this.tau);
      if (!(zs.m + Math.log(zs.z) >= top)) {
        zs.m = top;
        zs.z = 1;
        this.flooredQueries++;
      }
    }
    if (ns.m === -Infinity) {
      out.m = zs.m;
      out.z = zs.z;
      out.n.fill(0);
      return out;
    }
    if (this.strict) combineSeparateSums(ns, zs, out, 'subgen');
    else if (!this.combine(ns, zs, out)) {
      this.fallbacks++;
      out.m = ns.m;
      out.z = ns.z;
      out.n.set(ns.n);
    }
    if (this.guard) this.project(out);
    return out;
  }

  // N from `numerator`, Z from `denominator` on one scale; false when N/Z is not representable.
  private combine(numerator: KernelSums, denominator: KernelSums, out: KernelSums): boolean {
    const m = Math.max(numerator.m, denominator.m);
    const z = denominator.m === -Infinity ? 0 : denominator.z * Math.exp(denominator.m - m);
    const scale = Math.exp(numerator.m - m);
    let top = 0;
    for (let j = 0; j < out.n.length; j++) top = Math.max(top, Math.abs(numerator.n[j]! * scale));
    if (!(z > 0) || !Number.isFinite(top / z)) return false;
    for (let j = 0; j < out.n.length; j++) out.n[j] = numerator.n[j]! * scale;
    out.m = m;
    out.z = z;
    return true;
  }

  // Scales N so that ||N/Z|| ≤ max ||v||: the projection onto a ball holding every convex
  // combination of the values, so the answer only moves toward the exact one.
  private project(out: KernelSums): void {
    let nn = 0;
    for (let j = 0; j < out.n.length; j++) nn += out.n[j]! * out.n[j]!;
    const limit = Math.sqrt(this.maxValueSquared) * out.z;
    const norm = Math.sqrt(nn);
    if (!(norm > limit)) return;
    const f = limit / norm;
    for (let j = 0; j < out.n.length; j++) out.n[j]! *= f;
    this.clampedQueries++;
  }

  protected onReset(): void {
    this.clusters.clear();
    this.samples.clear();
    this.flooredQueries = 0;
    this.clampedQueries = 0;
    this.fallbacks = 0;
    this.maxValueSquared = 0;
  }

  protected saveState(): CacheState {
    return {
      scalars: { maxValueSquared: this.maxValueSquared, flooredQueries: this.flooredQueries, clampedQueries: this.clampedQueries, fallbacks: this.fallbacks },
      arrays: {},
      parts: { clusters: this.clusters.state(), samples: this.samples.state() },
    };
  }

  protected restoreState(r: StateReader): void {
    const maxValueSquared = r.number('maxValueSquared');
    if (!(maxValueSquared >= 0)) r.refuse(`maxValueSquared ${maxValueSquared} is negative`);
    const floored = r.integer('flooredQueries', 0, 2 ** 53);
    const clamped = r.integer('clampedQueries', 0, 2 ** 53);
    const fallbacks = r.integer('fallbacks', 0, 2 ** 53);
    this.clusters.loadState(r.part('clusters'));
    this.samples.loadState(r.part('samples'));
    this.maxValueSquared = maxValueSquared;
    this.flooredQueries = floored;
    this.clampedQueries = clamped;
    this.fallbacks = fallbacks;
  }

  protected override describeSummary(): string {
    return `subgen: ${this.clusters.count} key clusters (${this.clusters.keyRows} keys kept, radius ${this.clusterRadius.toPrecision(3)}), ${this.samples.count} ℓ2 value samples`;
  }

  protected override describeStats(): Record<string, number | string | boolean> {
    return {
      clusters: this.clusters.count,
      clusterKeys: this.clusters.keyRows,
      valueSamples: this.samples.count,
      overflowJoins: this.clusters.overflowJoins,
      unclustered: this.clusters.unclustered,
      flooredQueries: this.flooredQueries,
      clampedQueries: this.clampedQueries,
      fallbacks: this.fallbacks,
    };
  }
}

/**
 * Registry entry of {@link SubGen} (`subgen`).
 *
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { subGenPolicy } from '@kv/coreset';
 * new PolicyRegistry().register(subGenPolicy);
 * ```
 */
export const subGenPolicy: PolicyDefinition = {
  name: 'subgen',
  summary: 'SubGen: online key clustering (δ-balls, reservoirs) for Z and ℓ2 value sampling for N. Constants unverified; no theorem claimed.',
  params: [
    { name: 'clusterRadius', type: 'number', description: 'Cluster radius δ on raw keys (default τ^{-1/2}).' },
    { name: 'samplesPerCluster', type: 'integer', default: 4, description: 'Keys kept per cluster t.' },
    { name: 'valueFraction', type: 'number', default: 0.5, description: 'Share of the budget held by ℓ2 value samples, in [0.01, 0.99].' },
    { name: 'guard', type: 'boolean', default: true, description: 'Floor Z by the largest sampled term and project the answer onto the ball of radius max ||v|| (biased; false: raw unbiased estimators).' },
    { name: 'strict', type: 'boolean', default: false, description: 'Throw AssumptionViolatedError when N/Z is not representable instead of answering from the value samples.' },
  ],
  budget: 'required',
  create: (spec) => new SubGen(spec),
};
