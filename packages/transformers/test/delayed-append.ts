import { BaseHeadCache, type CacheState, createKernelSums, type HeadCache, type KernelSums, mergeSums, type StateReader } from '@kv/core';

/**
 * A policy cache driven as a transformers.js decoder drives it, for kv's own decoder: the model
 * attends the kept rows plus the current token, and the current token enters the policy only
 * after the call. `@kv/llm` appends before it attends, so wrapping each head in this cache makes
 * it attend exactly the rows a CompressedSession attends (the policy's rows before token t, plus
 * token t), whatever the policy decides on append (K-norm may drop an arriving token at once).
 */
export class DelayedAppendCache extends BaseHeadCache {
  private readonly pendingKey: Float32Array;
  private readonly pendingValue: Float32Array;
  private pending = false;
  private readonly one: KernelSums;

  constructor(readonly inner: HeadCache) {
    super(inner.spec);
    this.pendingKey = new Float32Array(inner.keyDim);
    this.pendingValue = new Float32Array(inner.valueDim);
    this.one = createKernelSums(inner.valueDim);
  }

  get stored(): number {
    return this.inner.stored + (this.pending ? 1 : 0);
  }

  protected onAppend(key: Float32Array, value: Float32Array): void {
    if (this.pending) this.inner.append(this.pendingKey, this.pendingValue);
    this.pendingKey.set(key);
    this.pendingValue.set(value);
    this.pending = true;
  }

  protected onSums(query: Float32Array, out: KernelSums): KernelSums {
    let logit = 0;
    for (let j = 0; j < query.length; j++) logit += query[j]! * this.pendingKey[j]!;
    this.one.m = this.tau * logit;
    this.one.z = 1;
    for (let j = 0; j < this.pendingValue.length; j++) this.one.n[j] = this.pendingValue[j]!;
    if (this.inner.seen === 0) {
      out.m = this.one.m;
      out.z = 1;
      out.n.set(this.one.n);
      return out;
    }
    return mergeSums(this.inner.sums(query, out), this.one);
  }

  protected onReset(): void {
    this.inner.reset();
    this.pending = false;
  }

  protected saveState(): CacheState {
    return { scalars: { pending: this.pending }, arrays: { key: this.pendingKey, value: this.pendingValue }, parts: { inner: this.inner.state() } };
  }

  protected restoreState(r: StateReader): void {
    this.inner.loadState(r.part('inner').state);
    this.pendingKey.set(r.array('key', Float32Array, this.keyDim));
    this.pendingValue.set(r.array('value', Float32Array, this.valueDim));
    this.pending = r.boolean('pending');
  }
}
