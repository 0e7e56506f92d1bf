import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { BaseHeadCache } from './base-cache.js';
import { ModelCache } from './container.js';
import type { CacheState, HeadCache, PolicySpec } from './contract.js';
import { ExactCache } from './exact.js';
import type { PrecisionSpec } from './precision/spec.js';
import { Rng } from './rng.js';
import { SlotStore } from './slot-store.js';
import type { StateReader } from './state.js';
import type { KernelSums } from './sums.js';

// A window over a store at some precision, answered from the store alone (threadable).
class StoreWindow extends BaseHeadCache {
  readonly store: SlotStore;
  constructor(spec: PolicySpec, precision: PrecisionSpec | undefined, private readonly window: number) {
    super(spec);
    this.store = new SlotStore(spec.keyDim, spec.valueDim, { precision, seed: spec.seed ?? 0, maxSlots: window, eviction: 'fifo' });
  }
  get stored(): number {
    return this.store.count;
  }
  attendStore(): { store: SlotStore; tau: number } | null {
    return { store: this.store, tau: this.tau };
  }
  protected onAppend(k: Float32Array, v: Float32Array, p: number): void {
    if (this.store.count === this.window) {
      let oldest = 0;
      for (let i = 1; i < this.store.count; i++) if (this.store.positionOf[i]! < this.store.positionOf[oldest]!) oldest = i;
      this.store.removeSwap(oldest);
    }
    this.store.push(k, 0, v, 0, p, 0);
  }
  protected onSums(q: Float32Array, out: KernelSums): KernelSums {
    return this.store.sums(q, this.tau, out);
  }
  protected onReset(): void {
    this.store.clear();
  }
  protected saveState(): CacheState {
    return { scalars: {}, arrays: {}, parts: { store: this.store.state() } };
  }
  protected restoreState(r: StateReader): void {
    this.store.loadState(r.part('store'));
  }
}

// A head whose answer is not its store's sums (it scales the query): never threaded.
class Tilted extends StoreWindow {
  override attendStore() {
    return null;
  }
  protected override onSums(q: Float32Array, out: KernelSums): KernelSums {
    return this.store.sums(q, this.tau * 0.5, out);
  }
}

const caches: ModelCache[] = [];
afterAll(() => {
  for (const c of caches) c.close();
});

function build(threads: number): ModelCache {
  const d = 64;
  const make = (layer: number, h: number): HeadCache => {
    const spec: PolicySpec = { policy: 'x', keyDim: d, valueDim: d, seed: layer * 10 + h };
    switch (h % 5) {
      case 0:
        return new ExactCache({ policy: 'exact', keyDim: d, valueDim: d });
      case 1:
        return new StoreWindow(spec, { keys: 'int4', values: 'int4' }, 700);
      case 2:
        return new StoreWindow(spec, { keys: 'int2', residual: 32, rotate: true }, 900);
      case 3:
        return new StoreWindow(spec, { keys: 'int4', keyGroups: 'channel' }, 2000);
      default:
        return new Tilted(spec, undefined, 500);
    }
  };
  const c = new ModelCache({ layers: 2, kvHeads: 10, queryHeads: 20, keyDim: d, valueDim: d, caches: make, threads });
  caches.push(c);
  return c;
}

describe('ModelCache with worker threads', () => {
  it('answers every head bit for bit as one thread does, threadable or not', () => {
    const one = build(1);
    const two = build(3);
    const rng = new Rng(4);
    const kv = 10 * 64;
    const k = new Float32Array(kv);
    const v = new Float32Array(kv);
    const q = new Float32Array(20 * 64);
    const a = new Float32Array(20 * 64);
    const b = new Float32Array(20 * 64);
    for (let t = 0; t < 700; t++) {
      for (let i = 0; i < kv; i++) {
        k[i] = rng.gaussian();
        v[i] = rng.gaussian();
      }
      for (const c of [one, two]) for (let l = 0; l < 2; l++) c.append(l, k, v);
      if (t % 97 === 0 || t === 699) {
        for (let i = 0; i < q.length; i++) q[i] = rng.gaussian() * 2;
        for (let l = 0; l < 2; l++) {
          one.attend(l, q, a);
          two.attend(l, q, b);
          expect([...b]).toEqual([...a]);
        }
      }
    }
    // The threaded run really used workers for the threadable heads.
    const pool = (two as unknown as { pool: { workers: { generation: number }[] } | null }).pool;
    expect(pool).not.toBeNull();
    expect(pool!.workers.reduce((s, w) => s + w.generation, 0)).toBeGreaterThan(0);
  });

  it('never loses a wake-up: 20 000 small threaded attends finish (a deadlock times the child out)', () => {
    // Before the fix, the main thread re-read the done word for Atomics.wait and could wait for a
    // change that had already happened: 2 runs in 3 of this child hung.
    const root = fileURLToPath(new URL('../../..', import.meta.url));
    const child = spawnSync(process.execPath, ['--conditions=@kv/source', '--import', 'tsx', 'packages/core/test/threaded-attends.ts', '20000'], {
      cwd: root,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(child.signal).toBeNull();
    expect(child.stdout.trim()).toBe('done 20000');
  }, 90_000);

  it('refuses a bad thread count', () => {
    expect(() => new ModelCache({ layers: 1, kvHeads: 1, keyDim: 4, valueDim: 4, caches: () => new ExactCache({ policy: 'exact', keyDim: 4, valueDim: 4 }), threads: 0 })).toThrow(/threads/);
  });
});
