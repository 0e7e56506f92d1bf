// Minimal compressed policies for the eval tests, so they do not depend on the policy packages:
// the most recent tokens, and a bottom-k random sample (each token draws a priority; the cache
// keeps the lowest priorities that fit). Both fit any budget through core's cost model and store
// their rows at any precision of core's precision layer (params.precision).
import {
  BaseHeadCache,
  type ByteCost,
  type CacheState,
  exactPolicy,
  type KernelSums,
  parsePrecision,
  type PolicyDefinition,
  precisionParam,
  PolicyRegistry,
  type PolicySpec,
  Rng,
  SlotStore,
  type StateReader,
} from '@kv/core';

// Keeps the rows of lowest rank that fit the budget; the rank of each row is held with it.
abstract class RankedRows extends BaseHeadCache {
  private readonly store: SlotStore;
  private ranks = new Float32Array(16);
  constructor(spec: PolicySpec) {
    super(spec);
    const precision = parsePrecision(spec.params?.['precision'], spec.policy);
    this.store = new SlotStore(spec.keyDim, spec.valueDim, { positions: false, precision, seed: spec.seed ?? 0 });
    this.store.limit = this.capacityAt(0);
  }
  protected abstract rank(position: number): number;
  protected override byteCost(): ByteCost {
    return { fixed: this.store.fixedBytes, perRow: this.store.perRowBytes + 4 };
  }
  get stored(): number {
    return this.store.count;
  }
  protected onAppend(k: Float32Array, v: Float32Array, pos: number): void {
    const r = this.rank(pos);
    const cap = this.capacityAt(pos + 1);
    const n = this.store.count;
    this.store.limit = Math.max(n, cap);
    if (n < cap) {
      if (n === this.ranks.length) {
        const grown = new Float32Array(n * 2);
        grown.set(this.ranks);
        this.ranks = grown;
      }
      this.ranks[n] = r;
      this.store.push(k, 0, v, 0, pos, 0);
      return;
    }
    if (n === 0) return;
    let worst = 0;
    for (let i = 1; i < n; i++) if (this.ranks[i]! > this.ranks[worst]!) worst = i;
    if (r >= this.ranks[worst]!) return;
    this.ranks[worst] = r;
    this.store.write(worst, k, 0, v, 0, pos, 0);
  }
  protected onSums(q: Float32Array, out: KernelSums): KernelSums {
    return this.store.sums(q, this.tau, out);
  }
  protected onReset(): void {
    this.store.clear();
  }
  protected saveState(): CacheState {
    return { scalars: {}, arrays: { ranks: this.ranks.subarray(0, this.store.count) }, parts: { store: this.store.state() } };
  }
  protected restoreState(r: StateReader): void {
    // The rows of a state fit the budget they were held under; the next append sets the limit again.
    this.store.limit = Infinity;
    this.store.loadState(r.part('store'));
    this.store.limit = this.store.count;
    const ranks = r.array('ranks', Float32Array, this.store.count);
    this.ranks = new Float32Array(Math.max(16, ranks.length));
    this.ranks.set(ranks);
  }
}

class LastTokens extends RankedRows {
  protected rank(position: number): number {
    return -position;
  }
}

class BottomK extends RankedRows {
  private readonly rng: Rng;
  constructor(spec: PolicySpec) {
    super(spec);
    this.rng = new Rng(spec.seed ?? 0);
  }
  protected rank(): number {
    return this.rng.uniform();
  }
  protected override onReset(): void {
    super.onReset();
    this.rng.setState(new Rng(this.spec.seed ?? 0).getState());
  }
  protected override saveState(): CacheState {
    const own = super.saveState();
    return { ...own, scalars: { rng: this.rng.getState() } };
  }
  protected override restoreState(r: StateReader): void {
    super.restoreState(r);
    this.rng.setState(r.numbers('rng'));
  }
}

export const testWindowPolicy: PolicyDefinition = {
  name: 'test-window',
  summary: 'Test fixture: the most recent tokens that fit the budget.',
  params: [precisionParam],
  budget: 'required',
  create: (spec) => new LastTokens(spec),
};

export const testUniformPolicy: PolicyDefinition = {
  name: 'test-uniform',
  summary: 'Test fixture: a bottom-k random sample of the tokens that fit the budget.',
  params: [precisionParam],
  budget: 'required',
  create: (spec) => new BottomK(spec),
};

export function createRegistry(): PolicyRegistry {
  return new PolicyRegistry().register(exactPolicy, testWindowPolicy, testUniformPolicy);
}
