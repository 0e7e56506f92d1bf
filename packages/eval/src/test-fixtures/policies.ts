// Minimal compressed policies for the eval tests, so they do not depend on the policy packages
// being built: a sliding window and a uniform reservoir sample (unweighted).
import {
  BaseHeadCache,
  exactPolicy,
  fixedBudget,
  type KernelSums,
  type PolicyDefinition,
  PolicyRegistry,
  type PolicySpec,
  Reservoir,
  Rng,
  SlotStore,
} from '@kv/core';

class LastTokens extends BaseHeadCache {
  private readonly window: number;
  private readonly store: SlotStore;
  private oldest = 0;
  constructor(spec: PolicySpec) {
    super(spec);
    this.window = fixedBudget(spec, 'test-window');
    this.store = new SlotStore(spec.keyDim, spec.valueDim, { maxSlots: this.window });
  }
  get stored(): number {
    return this.store.count;
  }
  buffers(): readonly ArrayBufferView[] {
    return this.store.buffers();
  }
  protected onAppend(k: Float32Array, v: Float32Array, pos: number): void {
    if (this.store.count < this.window) {
      this.store.push(k, 0, v, 0, pos, 0);
      return;
    }
    this.store.write(this.oldest, k, 0, v, 0, pos, 0);
    this.oldest = (this.oldest + 1) % this.window;
  }
  protected onSums(q: Float32Array, out: KernelSums): KernelSums {
    return this.store.sums(q, this.tau, out);
  }
  protected onReset(): void {
    this.store.clear();
    this.oldest = 0;
  }
}

class UniformSample extends BaseHeadCache {
  private readonly store: SlotStore;
  private readonly reservoir: Reservoir;
  constructor(spec: PolicySpec) {
    super(spec);
    const k = fixedBudget(spec, 'test-uniform');
    this.store = new SlotStore(spec.keyDim, spec.valueDim, { maxSlots: k });
    this.reservoir = new Reservoir(k, new Rng(spec.seed ?? 0));
  }
  get stored(): number {
    return this.store.count;
  }
  buffers(): readonly ArrayBufferView[] {
    return this.store.buffers();
  }
  protected onAppend(k: Float32Array, v: Float32Array, pos: number): void {
    const slot = this.reservoir.offer();
    if (slot < 0) return;
    if (slot === this.store.count) this.store.push(k, 0, v, 0, pos, 0);
    else this.store.write(slot, k, 0, v, 0, pos, 0);
  }
  protected onSums(q: Float32Array, out: KernelSums): KernelSums {
    return this.store.sums(q, this.tau, out);
  }
  protected onReset(): void {
    this.store.clear();
    this.reservoir.reset();
  }
}

export const testWindowPolicy: PolicyDefinition = {
  name: 'test-window',
  summary: 'Test fixture: the last W tokens.',
  params: [],
  budget: 'required',
  create: (spec) => new LastTokens(spec),
};

export const testUniformPolicy: PolicyDefinition = {
  name: 'test-uniform',
  summary: 'Test fixture: a uniform reservoir sample of W tokens.',
  params: [],
  budget: 'required',
  create: (spec) => new UniformSample(spec),
};

export function createRegistry(): PolicyRegistry {
  return new PolicyRegistry().register(exactPolicy, testWindowPolicy, testUniformPolicy);
}
