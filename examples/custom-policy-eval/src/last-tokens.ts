// A user-defined policy on the @kv/core contract: keep the newest tokens that fit the budget.
// The same class is the one in docs/implementing-a-policy.md.
import {
  BaseHeadCache,
  type ByteCost,
  type CacheState,
  type KernelSums,
  type PolicyDefinition,
  type PolicySpec,
  SlotStore,
  type StateReader,
} from '@kv/core';

/**
 * Keeps the newest tokens that fit the budget (token, ratio, bytes or fraction) and answers with
 * exact attention over them.
 */
export class LastTokens extends BaseHeadCache {
  // Rows in arrival order: slot 0 holds the oldest token.
  private readonly store: SlotStore;

  /**
   * @param spec - A spec the registry has validated (dimensions, budget).
   */
  constructor(spec: PolicySpec) {
    super(spec); // dimensions, τ, the token count, validation of every call
    // cannot throw: only precision options the default store does not use are refused
    this.store = new SlotStore(spec.keyDim, spec.valueDim);
  }

  get stored(): number {
    return this.store.count;
  }

  /** Positions of the kept tokens, oldest first. */
  positions(): Int32Array {
    return this.store.positions();
  }

  // What a row costs: the store's float32 key and value plus its position. The base class turns
  // any budget into rows with it (`capacityAt`), so the policy does no budget arithmetic itself.
  protected override byteCost(): ByteCost {
    return { fixed: 0, perRow: this.store.perRowBytes };
  }

  protected onAppend(key: Float32Array, value: Float32Array, position: number): void {
    const capacity = this.capacityAt(position + 1); // rows allowed once this token is in
    while (this.store.count > 0 && this.store.count >= capacity) this.dropOldest();
    if (capacity > 0) this.store.push(key, 0, value, 0, position, 0);
  }

  protected onSums(query: Float32Array, out: KernelSums): KernelSums {
    return this.store.sums(query, this.tau, out);
  }

  protected onReset(): void {
    this.store.clear();
  }

  // Everything needed to continue exactly; `bytes` is the byte length of these arrays.
  protected saveState(): CacheState {
    return { scalars: {}, arrays: {}, parts: { store: this.store.state() } };
  }

  protected restoreState(state: StateReader): void {
    this.store.loadState(state.part('store'));
  }

  protected override describeSummary(): string {
    return `last-tokens: the newest ${this.store.count} tokens`;
  }

  // Simple rather than fast: shifting the rows down is O(rows) per evicted token. A production
  // window keeps a ring buffer.
  private dropOldest(): void {
    for (let slot = 1; slot < this.store.count; slot++) this.store.move(slot, slot - 1);
    this.store.removeSwap(this.store.count - 1);
  }
}

/** The registry entry: register it explicitly (`registry.register(lastTokensPolicy)`). */
export const lastTokensPolicy: PolicyDefinition = {
  name: 'last-tokens',
  summary: 'Keeps the newest tokens that fit the budget; exact attention over them.',
  params: [],
  budget: 'required',
  create: (spec) => new LastTokens(spec),
};
