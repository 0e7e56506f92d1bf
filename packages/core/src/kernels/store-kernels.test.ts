import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import wabtInit from 'wabt';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { isKvError, KvErrorCode } from '../errors.js';
import { ExactCache, exactPolicy } from '../exact.js';
import { referenceAttention } from '../reference.js';
import { PolicyRegistry } from '../registry.js';
import { Rng } from '../rng.js';
import { SlotStore } from '../slot-store.js';
import { createKernelSums, type KernelSums } from '../sums.js';
import { conformanceChecks } from '../testing/conformance.js';
import { getKernelBackend, type KernelBackend, setKernelBackend } from './backend.js';
import { wasmAttentionAvailable } from './attention-modules.js';
import { ATTENTION_WASM } from './wasm-attention-bytes.js';

const EPS64 = 2 ** -53;

afterEach(() => {
  setKernelBackend('auto');
});

function withBackend<T>(backend: KernelBackend, fn: () => T): T {
  setKernelBackend(backend);
  try {
    return fn();
  } finally {
    setKernelBackend('auto');
  }
}

const usesWasm = (store: SlotStore) => (store as unknown as { kernels: { active: boolean } }).kernels.active;

// Random rows from a seed (fast-check picks dimensions and the seed; filling 10^5 floats through
// fast-check arbitraries would cost seconds per run). Values are rounded to float32 on store.
function gaussians(rng: Rng, length: number, scale: number): Float32Array {
  const x = new Float32Array(length);
  for (let i = 0; i < length; i++) x[i] = rng.gaussian() * scale;
  return x;
}

interface Case {
  d: number;
  s: number;
  n: number;
  weighted: boolean;
  keys: Float32Array;
  values: Float32Array;
  logWeights: Float32Array;
  query: Float32Array;
}

const cases = fc
  .record({
    d: fc.integer({ min: 1, max: 40 }),
    s: fc.integer({ min: 1, max: 21 }),
    n: fc.integer({ min: 1, max: 1100 }),
    weighted: fc.boolean(),
    seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    keyScale: fc.constantFrom(0.1, 1, 8),
  })
  .map(({ d, s, n, weighted, seed, keyScale }): Case => {
    const rng = new Rng(seed);
    return {
      d,
      s,
      n,
      weighted,
      keys: gaussians(rng, n * d, keyScale),
      values: gaussians(rng, n * s, 4),
      logWeights: gaussians(rng, n, 2),
      query: gaussians(rng, d, keyScale),
    };
  });

function fill(c: Case, initialSlots?: number): SlotStore {
  const store = new SlotStore(c.d, c.s, { weighted: c.weighted, ...(initialSlots ? { initialSlots } : {}) });
  for (let i = 0; i < c.n; i++) store.push(c.keys, i * c.d, c.values, i * c.s, i, c.logWeights[i]!);
  return store;
}

function expectSameSums(a: KernelSums, b: KernelSums): void {
  expect(Object.is(a.m, b.m)).toBe(true);
  expect(Object.is(a.z, b.z)).toBe(true);
  for (let j = 0; j < a.n.length; j++) expect(Object.is(a.n[j], b.n[j])).toBe(true);
}

describe('kernel backend selection', () => {
  it('runs the wasm SIMD kernels on this engine by default and can force the JS path', () => {
    expect(wasmAttentionAvailable()).toBe(true);
    expect(getKernelBackend()).toBe('wasm');
    expect(setKernelBackend('js')).toBe('js');
    expect(getKernelBackend()).toBe('js');
    expect(setKernelBackend('auto')).toBe('wasm');
  });

  it('rejects an unknown backend with a typed error and keeps the current one', () => {
    setKernelBackend('js');
    let code = 'nothing thrown';
    try {
      setKernelBackend('gpu' as KernelBackend);
    } catch (e) {
      code = isKvError(e) ? e.code : 'not a KvError';
    }
    expect(code).toBe(KvErrorCode.Unsupported);
    expect(getKernelBackend()).toBe('js');
  });

  it('falls back to the JS path on an engine without WebAssembly SIMD', async () => {
    const real = (globalThis as unknown as { WebAssembly: Record<string, unknown> }).WebAssembly;
    // An engine whose validator rejects the SIMD opcodes.
    vi.stubGlobal('WebAssembly', { Module: real.Module, Instance: real.Instance, Memory: real.Memory, validate: () => false });
    vi.resetModules();
    try {
      const fresh = await import('../index.js');
      expect(fresh.getKernelBackend()).toBe('js');
      let code = 'nothing thrown';
      try {
        fresh.setKernelBackend('wasm');
      } catch (e) {
        code = fresh.isKvError(e) ? e.code : 'not a KvError';
      }
      expect(code).toBe(KvErrorCode.Unsupported);
      const store = new fresh.SlotStore(3, 2, { initialSlots: 1024 });
      expect(usesWasm(store)).toBe(false);
      const k = new Float32Array([1, -1, 0.5]);
      for (let i = 0; i < 300; i++) store.push(k, 0, new Float32Array([i, 1]), 0, i, 0);
      const got = store.sums(k, 1, createKernelSums(2));
      expect(got.n[0]! / got.z).toBeCloseTo(149.5, 9);
    } finally {
      vi.unstubAllGlobals();
      vi.resetModules();
    }
  });

  it('keeps small stores in plain arrays and moves a store into wasm memory when it grows to 256 slots', () => {
    const store = new SlotStore(4, 2);
    const k = new Float32Array([1, 2, 3, 4]);
    const v = new Float32Array([5, 6]);
    for (let i = 0; i < 255; i++) store.push(k, 0, v, 0, i, 0);
    expect(usesWasm(store)).toBe(false);
    store.push(k, 0, v, 0, 255, 0);
    expect(usesWasm(store)).toBe(true);
    expect(store.heldBytes).toBe(256 * (4 * 6 + 4));
    const key = new Float32Array(4);
    const value = new Float32Array(2);
    for (let i = 0; i < 256; i++) {
      expect([...store.readKey(i, key)]).toEqual([1, 2, 3, 4]);
      expect([...store.readValue(i, value)]).toEqual([5, 6]);
    }
    // Under the JS backend, stores never move.
    const js = withBackend('js', () => {
      const st = new SlotStore(4, 2, { initialSlots: 1024 });
      for (let i = 0; i < 300; i++) st.push(k, 0, v, 0, i, 0);
      return st;
    });
    expect(usesWasm(js)).toBe(false);
  });
});

describe('wasm attention module', () => {
  it('ships exactly the assembly of attention.wat (regenerate with pnpm build:wasm)', async () => {
    const wabt = await wabtInit();
    const wat = readFileSync(new URL('./attention.wat', import.meta.url), 'utf8');
    const parsed = wabt.parseWat('attention.wat', wat, { simd: true });
    parsed.resolveNames();
    parsed.validate();
    const { buffer } = parsed.toBinary({ canonicalize_lebs: true, write_debug_names: false });
    parsed.destroy();
    expect([...buffer]).toEqual([...ATTENTION_WASM]);
  });
});

describe('SlotStore on the wasm backend', () => {
  it('sums agree bit for bit with the JS backend and within the forward-error bound of a Float64 naive softmax', () => {
    fc.assert(
      fc.property(cases, (c) => {
        const wasm = withBackend('wasm-f64', () => fill(c));
        const js = withBackend('js', () => fill(c));
        expect(usesWasm(wasm)).toBe(c.n >= 256);
        expect(usesWasm(js)).toBe(false);
        const tau = 1 / Math.sqrt(c.d);
        const a = withBackend('wasm-f64', () => wasm.sums(c.query, tau, createKernelSums(c.s)));
        const b = withBackend('js', () => js.sums(c.query, tau, createKernelSums(c.s)));
        // The same store read through the JS loops (its views live in wasm memory).
        const b2 = withBackend('js', () => wasm.sums(c.query, tau, createKernelSums(c.s)));
        expectSameSums(a, b);
        expectSameSums(a, b2);
        if (c.weighted) return;
        // Forward error against the Float64 two-pass reference: each logit is a Float64 sum of d
        // exact f32·f32 products, so |Δlogit| ≤ d·eps64·τ·Σ|k_j q_j|; exp turns that into the same
        // relative weight error, and the n-term sums of weights and weighted values add n·eps64
        // (both computations, hence the factor 2).
        const want = referenceAttention(c.query, c.keys, c.values, c.n, tau, new Float64Array(c.s)).out;
        let logitAbs = 0;
        for (let i = 0; i < c.n; i++) {
          let t = 0;
          for (let j = 0; j < c.d; j++) t += Math.abs(c.keys[i * c.d + j]! * c.query[j]!);
          logitAbs = Math.max(logitAbs, tau * t);
        }
        const weightErr = 2 * (c.d * EPS64 * logitAbs + (c.n + 4) * EPS64);
        for (let j = 0; j < c.s; j++) {
          let vmax = 0;
          for (let i = 0; i < c.n; i++) vmax = Math.max(vmax, Math.abs(c.values[i * c.s + j]!));
          const got = a.n[j]! / a.z;
          expect(Math.abs(got - want[j]!)).toBeLessThanOrEqual(4 * weightErr * vmax + 1e-300);
        }
      }),
      { numRuns: 50 },
    );
  });

  it('sumsWithProbs agrees bit for bit with the JS backend, probabilities included', () => {
    fc.assert(
      fc.property(cases, (c) => {
        const wasm = withBackend('wasm-f64', () => fill(c));
        const js = withBackend('js', () => fill(c));
        const tau = 0.7 / Math.sqrt(c.d);
        const pa = new Float64Array(c.n);
        const pb = new Float64Array(c.n);
        const a = withBackend('wasm-f64', () => wasm.sumsWithProbs(c.query, tau, createKernelSums(c.s), pa));
        const b = withBackend('js', () => js.sumsWithProbs(c.query, tau, createKernelSums(c.s), pb));
        expectSameSums(a, b);
        for (let i = 0; i < c.n; i++) expect(Object.is(pa[i], pb[i])).toBe(true);
      }),
      { numRuns: 30 },
    );
  });

  it('stays finite and identical to the JS path for keys and queries of norm up to 1e4', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 128 }),
        fc.integer({ min: 256, max: 900 }),
        fc.double({ min: 1, max: 1e4, noNaN: true }),
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        (d, n, norm, seed) => {
          const rng = new Rng(seed);
          const s = 4;
          const unit = (x: Float32Array, at: number) => {
            let sq = 0;
            for (let j = 0; j < d; j++) sq += x[at + j]! ** 2;
            const f = norm / Math.sqrt(sq || 1);
            for (let j = 0; j < d; j++) x[at + j] = x[at + j]! * f;
          };
          const keys = gaussians(rng, n * d, 1);
          for (let i = 0; i < n; i++) unit(keys, i * d);
          const query = gaussians(rng, d, 1);
          unit(query, 0);
          const c: Case = { d, s, n, weighted: false, keys, values: gaussians(rng, n * s, 1), logWeights: new Float32Array(n), query };
          const wasm = withBackend('wasm-f64', () => fill(c));
          const js = withBackend('js', () => fill(c));
          expect(usesWasm(wasm)).toBe(true);
          const a = withBackend('wasm-f64', () => wasm.sums(query, 1 / Math.sqrt(d), createKernelSums(s)));
          const b = withBackend('js', () => js.sums(query, 1 / Math.sqrt(d), createKernelSums(s)));
          expectSameSums(a, b);
          expect(Number.isFinite(a.m) && a.z >= 1 && Number.isFinite(a.z)).toBe(true);
          for (let j = 0; j < s; j++) expect(Number.isFinite(a.n[j]! / a.z)).toBe(true);
        },
      ),
      { numRuns: 25 },
    );
  });

  it('keeps rows intact through growth, writes, moves and swaps in wasm memory', () => {
    const d = 6;
    const s = 3;
    const rng = new Rng(7);
    const wasm = withBackend('wasm-f64', () => new SlotStore(d, s, { weighted: true }));
    const js = withBackend('js', () => new SlotStore(d, s, { weighted: true }));
    const k = new Float32Array(d);
    const v = new Float32Array(s);
    const q = gaussians(rng, d, 1);
    for (let step = 0; step < 3000; step++) {
      for (let j = 0; j < d; j++) k[j] = rng.gaussian();
      for (let j = 0; j < s; j++) v[j] = rng.gaussian();
      const lw = rng.gaussian();
      const op = rng.int(10);
      for (const store of [wasm, js]) {
        withBackend(store === wasm ? 'wasm-f64' : 'js', () => {
          if (op === 0 && store.count > 1) store.removeSwap(step % store.count);
          else if (op === 1 && store.count > 2) store.move(0, store.count - 1);
          else if (op === 2 && store.count > 0) store.write(step % store.count, k, 0, v, 0, step, lw);
          else store.push(k, 0, v, 0, step, lw);
        });
      }
    }
    expect(usesWasm(wasm)).toBe(true);
    expect(wasm.count).toBe(js.count);
    expect([...wasm.copyKeys()]).toEqual([...js.copyKeys()]);
    expect([...wasm.copyValues()]).toEqual([...js.copyValues()]);
    expect([...wasm.positions()]).toEqual([...js.positions()]);
    expect(wasm.heldBytes).toBe(js.heldBytes);
    const a = withBackend('wasm-f64', () => wasm.sums(q, 0.5, createKernelSums(s)));
    const b = withBackend('js', () => js.sums(q, 0.5, createKernelSums(s)));
    expectSameSums(a, b);
  });
});

describe('ExactCache on the wasm backend', () => {
  it('attend is bit-identical to the JS backend through the public API', () => {
    const rng = new Rng(11);
    const d = 33;
    const s = 17;
    const spec = { policy: 'exact', keyDim: d, valueDim: s };
    const wasm = withBackend('wasm-f64', () => new ExactCache(spec));
    const js = withBackend('js', () => new ExactCache(spec));
    const a = new Float32Array(s);
    const b = new Float32Array(s);
    for (let t = 0; t < 700; t++) {
      const k = gaussians(rng, d, 1);
      const v = gaussians(rng, s, 1);
      const q = gaussians(rng, d, 1);
      withBackend('wasm-f64', () => wasm.append(k, v));
      withBackend('js', () => js.append(k, v));
      if (t % 50 === 49) {
        withBackend('wasm-f64', () => wasm.attend(q, a));
        withBackend('js', () => js.attend(q, b));
        expect([...a]).toEqual([...b]);
      }
    }
    expect(wasm.bytes).toBe(js.bytes);
  });

  describe('conformance with 400 steps (rows in wasm memory)', () => {
    const registry = new PolicyRegistry().register(exactPolicy);
    for (const c of conformanceChecks({
      registry,
      spec: { policy: 'exact', keyDim: 12, valueDim: 5 },
      exactSpec: { policy: 'exact', keyDim: 12, valueDim: 5 },
      steps: 400,
    })) {
      it(c.name, () => withBackend('wasm-f64', () => c.run()));
    }
  });
});
