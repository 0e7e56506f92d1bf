import {
  BaseHeadCache,
  booleanParam,
  createKernelSums,
  dotUnit,
  fixedBudget,
  integerParam,
  InvalidBudgetError,
  type KernelSums,
  numberParam,
  type PolicyDefinition,
  type PolicySpec,
  Rng,
  sumsFromLogits,
} from '@kv/core';
import { combineSeparateSums } from './separate-sums.js';

const EMPTY = new Float32Array(0);

/**
 * SubGen (arXiv 2402.06082), streaming: Z is estimated by online clustering of keys (a key joins
 * the nearest centre within `clusterRadius` δ, or opens a new centre; each cluster keeps its count
 * n_c and a reservoir of t keys, so Z̃ = Σ_c (n_c/|R_c|)·Σ_{k∈R_c} e^{<q,k>τ}); N is estimated by
 * online ℓ₂ sampling: S independent one-slot weighted reservoirs pick (k, v) with probability
 * ||v||²/W (W = Σ||v||²), and Ñ = (1/S)·Σ_j (W/||v_j||²)·e^{<q,k_j>τ}·v_j.
 *
 * @remarks
 * - Both estimators are unbiased given the clustering. The paper's guarantee is
 *   ||z − Attn|| ≤ ε·||softmax||₂·||V||_op with t = O(ε^{-2}·e^{2δr}·log n) keys per cluster and
 *   S = O(ε^{-2}·d) samples, for (m, δ)-clusterable keys. **The constants are unverified**: this is
 *   a documented reconstruction and no theorem is claimed or tested here.
 * - Budget split (fixed token budget B): S = max(1, ⌊B·valueFraction⌋) value samples; the rest
 *   holds clusters of 1 centre + t keys each. When every cluster slot is taken, a far key joins the
 *   nearest centre anyway ({@link SubGen.overflowJoins} counts it): the clustering radius degrades.
 * - N and Z come from different rows, so at huge logits (norms ~1e4) their log scales can differ
 *   beyond a double's range: the query is then refused with `AssumptionViolatedError`.
 * - Key-only rows (centres, cluster reservoirs) each count as one stored row.
 * - **Guard** (`guard`, default true). Ñ and Z̃ come from independent samples, so their ratio is
 *   unbounded: on keys that do not cluster (e.g. the INDEX hard instance: near-orthogonal keys of
 *   large norm, ρ ≈ 20, where every cluster slot overflows) the token that carries the attention
 *   is usually missing from the cluster reservoirs, so Z̃ is e^{−7} of Z or less, while an ℓ₂
 *   sample holding it inflates Ñ; measured relative errors reach 1e4–1e5. Two corrections, each of
 *   which can only move its quantity toward the truth: Z̃ is raised to the largest single term
 *   e^{<q,k_j>τ} of the held value samples (one real token's term, so ≤ Z), and the answer Ñ/Z̃ is
 *   projected onto the ball of radius max_i ||v_i|| (tracked over the stream), which contains every
 *   convex combination of values, hence the exact answer (projection onto a convex set holding the
 *   target never increases the distance to it). The guarded estimators are biased;
 *   {@link SubGen.flooredQueries} and {@link SubGen.clampedQueries} count the corrections, and
 *   `guard: false` restores the raw unbiased estimators. The guard bounds the relative error by
 *   2·max||v||/||answer||, it does not make SubGen accurate on such streams.
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
  /** Value samples S. */
  readonly valueSamples: number;
  /** Largest number of clusters the budget allows. */
  readonly maxClusters: number;
  /** Keys that joined a centre farther than δ because no cluster slot was left. */
  overflowJoins = 0;
  /** Whether the Z floor and the answer projection are applied (see the class remarks). */
  readonly guard: boolean;
  /** Queries whose Z̃ was raised to the largest value-sample term (guard). */
  flooredQueries = 0;
  /** Queries whose answer was projected onto the ball of radius max ||v|| (guard). */
  clampedQueries = 0;
  private maxValueSquared = 0;
  private rng: Rng;
  private centres = new Float32Array(0);
  private counts = new Float64Array(0);
  private sizes = new Int32Array(0);
  private clusterKeys = new Float32Array(0);
  private clusters = 0;
  private clusterRows = 0;
  private sampleKeys = new Float32Array(0);
  private sampleValues = new Float32Array(0);
  private sampleLogInvNorm = new Float64Array(0);
  private samplesLive = 0;
  private weightTotal = 0;
  private logits = new Float64Array(0);
  private readonly zSums: KernelSums = createKernelSums(0);
  private readonly nSums: KernelSums;

  /**
   * @param spec - Spec with a fixed budget and params clusterRadius, samplesPerCluster, valueFraction, guard.
   * @throws `InvalidBudgetError` when the budget cannot hold one value sample and one cluster.
   */
  constructor(spec: PolicySpec) {
    super(spec);
    const budget = fixedBudget(spec, 'subgen');
    const p = spec.params;
    this.clusterRadius = numberParam(p, 'clusterRadius', { default: 1 / Math.sqrt(this.tau), min: 0 });
    this.samplesPerCluster = integerParam(p, 'samplesPerCluster', { default: 4, min: 1 });
    const fraction = numberParam(p, 'valueFraction', { default: 0.5, min: 0, max: 1 });
    this.guard = booleanParam(p, 'guard', true);
    this.valueSamples = Math.max(1, Math.floor(budget * fraction));
    this.maxClusters = Math.floor((budget - this.valueSamples) / (1 + this.samplesPerCluster));
    if (this.maxClusters < 1) {
      throw new InvalidBudgetError(
        `subgen budget ${budget} leaves no room for one cluster of 1 + ${this.samplesPerCluster} rows after ${this.valueSamples} value samples`,
      );
    }
    this.rng = new Rng(spec.seed ?? 0);
    this.nSums = createKernelSums(this.valueDim);
  }

  /** Centres + cluster keys + value samples. */
  get stored(): number {
    return this.clusters + this.clusterRows + this.samplesLive;
  }

  /** Number of clusters. */
  get clusterCount(): number {
    return this.clusters;
  }

  /** Arrays held (including the per-query logit scratch). */
  buffers(): readonly ArrayBufferView[] {
    return [this.centres, this.counts, this.sizes, this.clusterKeys, this.sampleKeys, this.sampleValues, this.sampleLogInvNorm, this.logits];
  }

  /**
   * Clusters the key and offers (k, v) to the ℓ₂ samplers.
   * @param key - Key.
   * @param value - Value.
   * @param _position - Logical position (unused: SubGen keeps no positions).
   */
  protected onAppend(key: Float32Array, value: Float32Array, _position: number): void {
    this.cluster(key);
    this.sampleValue(key, value);
  }

  /**
   * Ñ from the value samples over Z̃ from the clusters (guarded unless `guard` is false).
   * @param query - Query.
   * @param out - Receives the sums.
   * @returns `out`.
   * @throws `AssumptionViolatedError` when N/Z is not representable (see {@link combineSeparateSums}).
   */
  protected onSums(query: Float32Array, out: KernelSums): KernelSums {
    const d = this.keyDim;
    const t = this.samplesPerCluster;
    const tau = this.tau;
    const rows = Math.max(this.clusterRows, this.samplesLive);
    if (this.logits.length < rows) this.logits = new Float64Array(Math.max(rows, this.logits.length * 2));
    const logits = this.logits;
    let r = 0;
    for (let c = 0; c < this.clusters; c++) {
      const size = this.sizes[c]!;
      const bias = Math.log(this.counts[c]! / size);
      for (let i = 0; i < size; i++) logits[r++] = tau * dotUnit(d, this.clusterKeys, (c * t + i) * d, query, 0) + bias;
    }
    let mz = -Infinity;
    for (let i = 0; i < r; i++) if (logits[i]! > mz) mz = logits[i]!;
    let z = 0;
    for (let i = 0; i < r; i++) z += Math.exp(logits[i]! - mz);
    const zs = this.zSums;
    zs.m = mz;
    zs.z = z;
    const ns = this.nSums;
    const S = this.samplesLive;
    if (S === 0 || this.weightTotal === 0) {
      ns.m = -Infinity;
      ns.n.fill(0);
    } else {
      const shift = Math.log(this.weightTotal / S);
      let top = -Infinity;
      for (let j = 0; j < S; j++) {
        const logit = tau * dotUnit(d, this.sampleKeys, j * d, query, 0);
        if (logit > top) top = logit;
        logits[j] = logit + this.sampleLogInvNorm[j]! + shift;
      }
      sumsFromLogits(S, logits, 0, this.sampleValues, this.valueDim, 0, ns);
      // Z ≥ e^{top}: the sample is a real token of the stream.
      if (this.guard && !(mz + Math.log(z) >= top)) {
        zs.m = top;
        zs.z = 1;
        this.flooredQueries++;
      }
    }
    combineSeparateSums(ns, zs, out, 'subgen');
    if (this.guard) this.project(out);
    return out;
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

  /** Forgets every token (keeps allocations). */
  protected onReset(): void {
    this.clusters = 0;
    this.clusterRows = 0;
    this.samplesLive = 0;
    this.weightTotal = 0;
    this.overflowJoins = 0;
    this.flooredQueries = 0;
    this.clampedQueries = 0;
    this.maxValueSquared = 0;
    this.rng = new Rng(this.spec.seed ?? 0);
  }

  private cluster(key: Float32Array): void {
    const d = this.keyDim;
    const t = this.samplesPerCluster;
    let best = -1;
    let bestDist = Infinity;
    const kk = dotUnit(d, key, 0, key, 0);
    for (let c = 0; c < this.clusters; c++) {
      const dist = kk - 2 * dotUnit(d, key, 0, this.centres, c * d) + dotUnit(d, this.centres, c * d, this.centres, c * d);
      if (dist < bestDist) {
        bestDist = dist;
        best = c;
      }
    }
    const r2 = this.clusterRadius * this.clusterRadius;
    if (best < 0 || (bestDist > r2 && this.clusters < this.maxClusters)) {
      best = this.openCluster(key);
    } else if (bestDist > r2) {
      this.overflowJoins++;
    }
    const n = ++this.counts[best]!;
    const size = this.sizes[best]!;
    if (size < t) {
      this.clusterKeys.set(key, (best * t + size) * d);
      this.sizes[best] = size + 1;
      this.clusterRows++;
    } else {
      const j = this.rng.int(n);
      if (j < t) this.clusterKeys.set(key, (best * t + j) * d);
    }
  }

  private openCluster(key: Float32Array): number {
    const d = this.keyDim;
    const t = this.samplesPerCluster;
    const c = this.clusters;
    if (c === this.counts.length) {
      const cap = Math.min(this.maxClusters, Math.max(2, c * 2));
      const centres = new Float32Array(cap * d);
      centres.set(this.centres);
      const counts = new Float64Array(cap);
      counts.set(this.counts);
      const sizes = new Int32Array(cap);
      sizes.set(this.sizes);
      const keys = new Float32Array(cap * t * d);
      keys.set(this.clusterKeys);
      this.centres = centres;
      this.counts = counts;
      this.sizes = sizes;
      this.clusterKeys = keys;
    }
    this.centres.set(key, c * d);
    this.counts[c] = 0;
    this.sizes[c] = 0;
    this.clusters++;
    return c;
  }

  private sampleValue(key: Float32Array, value: Float32Array): void {
    const w = dotUnit(this.valueDim, value, 0, value, 0);
    if (w > this.maxValueSquared) this.maxValueSquared = w;
    if (!(w > 0)) return;
    this.weightTotal += w;
    const S = this.valueSamples;
    if (this.samplesLive === 0) {
      // The first positive-weight token is every slot's sample (replacement probability 1).
      if (this.sampleKeys.length === 0) {
        this.sampleKeys = new Float32Array(S * this.keyDim);
        this.sampleValues = new Float32Array(S * this.valueDim);
        this.sampleLogInvNorm = new Float64Array(S);
      }
      for (let j = 0; j < S; j++) this.writeSample(j, key, value, w);
      this.samplesLive = S;
      return;
    }
    const p = w / this.weightTotal;
    if (p >= 1) {
      for (let j = 0; j < S; j++) this.writeSample(j, key, value, w);
      return;
    }
    // Each slot is replaced independently with probability p: jump between replaced slots with
    // geometric gaps, so a token costs O(1 + S·p) random draws instead of S.
    const logq = Math.log1p(-p);
    let j = Math.floor(Math.log(1 - this.rng.uniform()) / logq);
    while (j < S) {
      this.writeSample(j, key, value, w);
      j += 1 + Math.floor(Math.log(1 - this.rng.uniform()) / logq);
    }
  }

  private writeSample(j: number, key: Float32Array, value: Float32Array, w: number): void {
    this.sampleKeys.set(key, j * this.keyDim);
    this.sampleValues.set(value.length ? value : EMPTY, j * this.valueDim);
    this.sampleLogInvNorm[j] = -Math.log(w);
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
    { name: 'valueFraction', type: 'number', default: 0.5, description: 'Share of the budget used by ℓ2 value samples.' },
    { name: 'guard', type: 'boolean', default: true, description: 'Floor Z by the largest sampled term and project the answer onto the ball of radius max ||v|| (biased; false: raw unbiased estimators).' },
  ],
  budget: 'required',
  create: (spec) => new SubGen(spec),
};
