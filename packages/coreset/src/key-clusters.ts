import { type CacheState, dotUnit, type KernelSums, Rng, type StateReader } from '@kv/core';

/**
 * SubGen's online clustering of keys, the estimator of Z: a key joins the nearest centre within
 * `radius` δ or opens a new centre (while the caller allows more); each cluster keeps its count
 * n_c and a reservoir of up to t keys, so Z̃ = Σ_c (n_c/|R_c|)·Σ_{k∈R_c} e^{<q,k>τ}, unbiased given
 * the clustering. When no centre may be opened a far key joins the nearest one anyway
 * ({@link KeyClusters.overflowJoins} counts it).
 *
 * @example
 * ```ts
 * import { createKernelSums } from '@kv/core';
 * import { KeyClusters } from '@kv/coreset';
 * const clusters = new KeyClusters(2, 4, 0.5, 1);
 * for (let i = 0; i < 30; i++) clusters.add(new Float32Array([(i % 3) * 10, 0]), 8);
 * clusters.count; // 3
 * clusters.sums(new Float32Array([1, 0]), 1, createKernelSums(0));
 * ```
 */
export class KeyClusters {
  /** Key dimension. */
  readonly d: number;
  /** Keys kept per cluster t. */
  readonly perCluster: number;
  /** Cluster radius δ. */
  readonly radius: number;
  /** Keys that joined a centre farther than δ because no new cluster was allowed. */
  overflowJoins = 0;
  /** Keys that could not be clustered at all (no cluster allowed yet); they are missing from Z̃. */
  unclustered = 0;
  private centres = new Float32Array(0);
  private counts = new Float64Array(0);
  private sizes = new Int32Array(0);
  private keys = new Float32Array(0);
  private clusters = 0;
  private rows = 0;
  private readonly seed: number;
  private rng: Rng;

  /**
   * @param d - Key dimension.
   * @param perCluster - Keys kept per cluster t (≥ 1).
   * @param radius - Cluster radius δ.
   * @param seed - Seed of the reservoirs.
   */
  constructor(d: number, perCluster: number, radius: number, seed: number) {
    this.d = d;
    this.perCluster = perCluster;
    this.radius = radius;
    this.seed = seed;
    this.rng = new Rng(seed);
  }

  /** Number of clusters. */
  get count(): number {
    return this.clusters;
  }

  /** Keys held in the reservoirs. */
  get keyRows(): number {
    return this.rows;
  }

  /** Bytes a cluster may come to hold: centre, count, size and a full reservoir. */
  get clusterBytes(): number {
    return 4 * this.d + 12 + 4 * this.d * this.perCluster;
  }

  /** Bytes held: centres, counts, sizes and the reservoirs' live keys. */
  get heldBytes(): number {
    return this.clusters * (4 * this.d + 12) + this.rows * 4 * this.d;
  }

  /**
   * Clusters one key.
   * @param key - The key.
   * @param maxClusters - Clusters allowed now.
   */
  add(key: Float32Array, maxClusters: number): void {
    const d = this.d;
    const t = this.perCluster;
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
    const far = bestDist > this.radius * this.radius;
    if ((best < 0 || far) && this.clusters < maxClusters) best = this.open(key, maxClusters);
    else if (best < 0) {
      this.unclustered++;
      return;
    } else if (far) this.overflowJoins++;
    const n = ++this.counts[best]!;
    const size = this.sizes[best]!;
    if (size < t) {
      this.keys.set(key, (best * t + size) * d);
      this.sizes[best] = size + 1;
      this.rows++;
    } else {
      const j = this.rng.int(n);
      if (j < t) this.keys.set(key, (best * t + j) * d);
    }
  }

  /**
   * Z̃ of a query, log-scaled (m = −∞ without clusters).
   * @param query - Query.
   * @param tau - Logit scale.
   * @param out - Receives m and z (n untouched).
   * @returns `out`.
   */
  sums(query: Float32Array, tau: number, out: KernelSums): KernelSums {
    const d = this.d;
    const t = this.perCluster;
    let m = -Infinity;
    for (let c = 0; c < this.clusters; c++) {
      const bias = Math.log(this.counts[c]! / this.sizes[c]!);
      for (let i = 0; i < this.sizes[c]!; i++) m = Math.max(m, tau * dotUnit(d, this.keys, (c * t + i) * d, query, 0) + bias);
    }
    let z = 0;
    if (m > -Infinity) {
      for (let c = 0; c < this.clusters; c++) {
        const bias = Math.log(this.counts[c]! / this.sizes[c]!);
        for (let i = 0; i < this.sizes[c]!; i++) z += Math.exp(tau * dotUnit(d, this.keys, (c * t + i) * d, query, 0) + bias - m);
      }
    }
    out.m = m;
    out.z = z;
    return out;
  }

  /** Forgets every cluster and restarts the reservoirs from the seed. */
  clear(): void {
    this.clusters = 0;
    this.rows = 0;
    this.overflowJoins = 0;
    this.unclustered = 0;
    this.rng = new Rng(this.seed);
  }

  /**
   * Centres, counts, sizes, the live reservoir keys (packed), counters and generator state.
   * @returns The state.
   */
  state(): CacheState {
    const d = this.d;
    const packed = new Float32Array(this.rows * d);
    let r = 0;
    for (let c = 0; c < this.clusters; c++) {
      const size = this.sizes[c]!;
      packed.set(this.keys.subarray(c * this.perCluster * d, (c * this.perCluster + size) * d), r * d);
      r += size;
    }
    return {
      scalars: { overflowJoins: this.overflowJoins, unclustered: this.unclustered, rng: this.rng.getState() },
      arrays: {
        centres: this.centres.subarray(0, this.clusters * d),
        counts: this.counts.subarray(0, this.clusters),
        sizes: this.sizes.subarray(0, this.clusters),
        keys: packed,
      },
    };
  }

  /**
   * Loads a state of clusters of the same shape.
   * @param r - A reader of the state.
   * @throws `SnapshotError` when it does not fit.
   */
  loadState(r: StateReader): void {
    const d = this.d;
    const t = this.perCluster;
    const overflow = r.integer('overflowJoins', 0, 2 ** 53);
    const unclustered = r.integer('unclustered', 0, 2 ** 53);
    const gen = new Rng(0);
    gen.setState(r.numbers('rng', 6));
    const sizes = r.array('sizes', Int32Array);
    const c = sizes.length;
    const counts = r.array('counts', Float64Array, c);
    const centres = r.array('centres', Float32Array, c * d);
    let rows = 0;
    for (let i = 0; i < c; i++) {
      if (!(sizes[i]! >= 1 && sizes[i]! <= t && counts[i]! >= sizes[i]!)) r.refuse(`cluster ${i} holds ${sizes[i]} keys for a count of ${counts[i]}`);
      rows += sizes[i]!;
    }
    const packed = r.array('keys', Float32Array, rows * d);
    this.ensure(c);
    this.centres.set(centres);
    this.counts.set(counts);
    this.sizes.set(sizes);
    let k = 0;
    for (let i = 0; i < c; i++) {
      this.keys.set(packed.subarray(k * d, (k + sizes[i]!) * d), i * t * d);
      k += sizes[i]!;
    }
    this.clusters = c;
    this.rows = rows;
    this.overflowJoins = overflow;
    this.unclustered = unclustered;
    this.rng = gen;
  }

  private open(key: Float32Array, maxClusters: number): number {
    const c = this.clusters;
    this.ensure(c + 1, maxClusters);
    this.centres.set(key, c * this.d);
    this.counts[c] = 0;
    this.sizes[c] = 0;
    this.clusters++;
    return c;
  }

  // Room for `clusters` clusters (doubling, never past `limit`), keeping the live ones.
  private ensure(clusters: number, limit = clusters): void {
    if (clusters <= this.counts.length) return;
    const cap = Math.max(clusters, Math.min(limit, Math.max(2 * this.counts.length, 2)));
    const d = this.d;
    const centres = new Float32Array(cap * d);
    centres.set(this.centres);
    const counts = new Float64Array(cap);
    counts.set(this.counts);
    const sizes = new Int32Array(cap);
    sizes.set(this.sizes);
    const keys = new Float32Array(cap * this.perCluster * d);
    keys.set(this.keys);
    this.centres = centres;
    this.counts = counts;
    this.sizes = sizes;
    this.keys = keys;
  }
}
