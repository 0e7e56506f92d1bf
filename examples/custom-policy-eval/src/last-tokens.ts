// A user-defined policy on the @kv/core contract: keep the last W tokens in a ring buffer.
// This is the complete version of the `LastTokens` sketch in docs/implementing-a-policy.md.
import { BaseHeadCache, fixedBudget, type KernelSums, type PolicyDefinition, type PolicySpec, SlotStore } from '@kv/core';

export class LastTokens extends BaseHeadCache {
  private readonly window: number;
  private readonly store: SlotStore;

  constructor(spec: PolicySpec) {
    super(spec); // validates dimensions, counts `seen`, sets τ
    this.window = fixedBudget(spec, 'last-tokens'); // throws InvalidBudgetError for a ratio budget
    this.store = new SlotStore(spec.keyDim, spec.valueDim, { maxSlots: this.window, initialSlots: Math.min(this.window, 64) });
  }

  get stored(): number {
    return this.store.count;
  }

  buffers(): readonly ArrayBufferView[] {
    return this.store.buffers();
  }

  positions(): Int32Array {
    return this.store.positions();
  }

  protected onAppend(key: Float32Array, value: Float32Array, position: number): void {
    // Slot `position mod W` holds the oldest token once the ring is full: overwrite it in place.
    if (this.store.count < this.window) this.store.push(key, 0, value, 0, position, 0);
    else this.store.write(position % this.window, key, 0, value, 0, position, 0);
  }

  protected onSums(query: Float32Array, out: KernelSums): KernelSums {
    return this.store.sums(query, this.tau, out);
  }

  protected onReset(): void {
    this.store.clear();
  }
}

export const lastTokensPolicy: PolicyDefinition = {
  name: 'last-tokens',
  summary: 'Keeps the last W tokens (ring buffer); exact attention over them.',
  params: [],
  budget: 'required',
  create: (spec) => new LastTokens(spec),
};
