import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import type { PrecisionSpec } from '../precision/spec.js';
import { Rng } from '../rng.js';
import { SlotStore } from '../slot-store.js';
import { createKernelSums, type KernelSums } from '../sums.js';
import { type KernelBackend, setKernelBackend } from './backend.js';
import { kernelFeatures } from './attention-modules.js';
import { ATTENTION_F32_WASM, ATTENTION_F32_WASM_RELAXED } from './wasm-attention-f32-bytes.js';

afterEach(() => {
  setKernelBackend('auto');
});

function on<T>(backend: KernelBackend, fn: () => T): T {
  setKernelBackend(backend);
  try {
    return fn();
  } finally {
    setKernelBackend('auto');
  }
}

const active = (store: SlotStore) => (store as unknown as { kernels: { active: boolean } }).kernels.active;

function unitRows(rng: Rng, n: number, d: number, norm: number): Float32Array {
  const x = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    let ss = 0;
    for (let j = 0; j < d; j++) {
      x[i * d + j] = rng.gaussian();
      ss += x[i * d + j]! ** 2;
    }
    const f = norm / Math.sqrt(ss);
    for (let j = 0; j < d; j++) x[i * d + j] = x[i * d + j]! * f;
  }
  return x;
}

// The output error of `a` against the Float64 reference `b`, relative to the norm of the
// absolute-value output Σ_i p_i·|v_i| (what float32 accumulation can promise: it does not depend
// on how much the weighted values cancel), and the relative error of log Z.
function errors(store: SlotStore, q: Float32Array, tau: number, a: KernelSums, b: KernelSums): { out: number; logZ: number } {
  const s = store.s;
  const probs = new Float64Array(store.count);
  on('js', () => store.sumsWithProbs(q, tau, createKernelSums(s), probs));
  const v = new Float64Array(s);
  const abs = new Float64Array(s);
  for (let i = 0; i < store.count; i++) {
    store.readValue(i, v);
    for (let j = 0; j < s; j++) abs[j] += probs[i]! * Math.abs(v[j]!);
  }
  let num = 0;
  let den = 0;
  for (let j = 0; j < s; j++) {
    num += (a.n[j]! / a.z - b.n[j]! / b.z) ** 2;
    den += abs[j]! ** 2;
  }
  const la = a.m + Math.log(a.z);
  const lb = b.m + Math.log(b.z);
  return { out: den > 0 ? Math.sqrt(num / den) : Math.sqrt(num), logZ: Math.abs(la - lb) / Math.max(1, Math.abs(lb)) };
}

describe('the Float32 attention kernel', () => {
  it('ships the assembly of attention-f32.wat, baseline and relaxed', () => {
    expect(ATTENTION_F32_WASM_RELAXED).not.toEqual(ATTENTION_F32_WASM);
    // The build script's check mode compares the committed modules with a fresh build.
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/build-wasm.ts', '--check'], { cwd: new URL('../../../..', import.meta.url).pathname, encoding: 'utf8' });
    expect(r.stdout + r.stderr).toContain('wasm-attention-f32-bytes.ts is up to date');
    expect(r.status).toBe(0);
  });

  it('its exponential is within 1e-6 relative of Math.exp on [−87, 8]', () => {
    const store = new SlotStore(4, 4);
    for (let t = 0; t < 256; t++) store.push(new Float32Array(4), 0, new Float32Array(4), 0, t, 0);
    const k = (store as unknown as { kernels: { exp4(x: Float32Array): Float32Array | null } }).kernels;
    let worst = 0;
    const x = new Float32Array(4);
    for (let i = 0; i <= 200_000; i += 4) {
      for (let l = 0; l < 4; l++) x[l] = -87 + 95 * (Math.min(i + l, 200_000) / 200_000);
      const e = k.exp4(x)!;
      for (let l = 0; l < 4; l++) worst = Math.max(worst, Math.abs(e[l]! - Math.exp(x[l]!)) / Math.exp(x[l]!));
    }
    expect(worst).toBeLessThan(1e-6);
    const big = k.exp4(new Float32Array([-100, -1e30, -Infinity, 0]))!;
    expect(big[0]).toBeLessThan(2e-38);
    expect(big[3]).toBe(1);
  });

  it('matches the Float64 reference to 1e-5 at key and query norms from 1e-2 to 1e4', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(4, 8, 64, 128, 36),
        fc.integer({ min: 256, max: 3000 }),
        fc.double({ min: -2, max: 4, noNaN: true }),
        fc.boolean(),
        fc.integer({ min: 0, max: 2 ** 30 }),
        (d, n, lg, weighted, seed) => {
          const rng = new Rng(seed);
          const norm = 10 ** lg;
          const keys = unitRows(rng, n, d, norm);
          const s = d;
          const store = new SlotStore(d, s, { weighted });
          const v = new Float32Array(s);
          for (let t = 0; t < n; t++) {
            for (let j = 0; j < s; j++) v[j] = rng.gaussian();
            store.push(keys, t * d, v, 0, t, weighted ? rng.gaussian() * 2 : 0);
          }
          expect(active(store)).toBe(true);
          const q = unitRows(rng, 1, d, norm);
          const tau = 1 / Math.sqrt(d);
          const a = on('wasm', () => store.sums(q, tau, createKernelSums(s)));
          const b = on('js', () => store.sums(q, tau, createKernelSums(s)));
          expect(Number.isFinite(a.m) && Number.isFinite(a.z) && a.z >= 1).toBe(true);
          const e = errors(store, q, tau, a, b);
          expect(e.out).toBeLessThan(1e-5);
          expect(e.logZ).toBeLessThan(1e-5);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('stays within 1e-5 when the scores climb, fall or jump (its reference is raised and the block rescaled)', () => {
    const d = 16;
    const rng = new Rng(12);
    const q = unitRows(rng, 1, d, 1);
    // Logits along a ramp: every row beats the last (a rescale every few rows), then the reverse,
    // then jumps of ±100 between neighbours.
    for (const logit of [(t: number) => -50 + t * 0.7, (t: number) => 400 - t * 0.7, (t: number) => (t % 2 ? 100 : -100) + rng.gaussian()]) {
      const store = new SlotStore(d, d);
      const v = new Float32Array(d);
      for (let t = 0; t < 700; t++) {
        const k = new Float32Array(d);
        for (let j = 0; j < d; j++) k[j] = q[j]! * logit(t);
        for (let j = 0; j < d; j++) v[j] = rng.gaussian();
        store.push(k, 0, v, 0, t, 0);
      }
      const a = on('wasm', () => store.sums(q, 1, createKernelSums(d)));
      const b = on('js', () => store.sums(q, 1, createKernelSums(d)));
      const e = errors(store, q, 1, a, b);
      expect(e.out).toBeLessThan(1e-5);
      expect(e.logZ).toBeLessThan(1e-5);
    }
  });

  it('answers exactly what an all-−∞-weight block contributes: nothing', () => {
    const d = 8;
    const store = new SlotStore(d, d, { weighted: true });
    const rng = new Rng(3);
    for (let t = 0; t < 600; t++) store.push(unitRows(rng, 1, d, 1), 0, unitRows(rng, 1, d, 1), 0, t, t < 300 ? -Infinity : 0);
    const q = unitRows(rng, 1, d, 1);
    const a = on('wasm', () => store.sums(q, 1, createKernelSums(d)));
    const b = on('js', () => store.sums(q, 1, createKernelSums(d)));
    expect(errors(store, q, 1, a, b).out).toBeLessThan(1e-6);
  });
});

describe('the code kernel', () => {
  const specs: readonly PrecisionSpec[] = [
    { keys: 'int8' },
    { keys: 'int4' },
    { keys: 'int2' },
    { keys: 'int4', values: 'int2', group: 16 },
    { keys: 'int4', values: 'f32' },
    { keys: 'f32', values: 'int4' },
    { keys: 'int4', scales: 'f32', group: 64 },
    { keys: 'int2', rotate: true, residual: 32 },
    { keys: 'int4', keyGroups: 'channel', residual: 32 },
    { keys: 'int2', values: 'int2', keyGroups: 'channel', group: 16 },
  ];
  for (const spec of specs) {
    it(`reads the codes as the Float64 loops do: ${JSON.stringify(spec)}`, () => {
      fc.assert(
        fc.property(fc.constantFrom(64, 128, 32), fc.integer({ min: 256, max: 1500 }), fc.boolean(), fc.integer({ min: 0, max: 2 ** 30 }), fc.integer({ min: 0, max: 200 }), (d, n, weighted, seed, evict) => {
          const rng = new Rng(seed);
          const channel = spec.keyGroups === 'channel';
          const store = new SlotStore(d, d, { precision: spec, seed, weighted, ...(channel ? { eviction: 'fifo' as const } : {}) });
          const keys = unitRows(rng, n, d, 8);
          const values = unitRows(rng, n, d, 3);
          for (let t = 0; t < n; t++) store.push(keys, t * d, values, t * d, t, weighted ? rng.gaussian() : 0);
          // Evict (oldest-first for channel-wise groups, leaving tombstones; anywhere otherwise).
          for (let e = 0; e < Math.min(evict, n - 256); e++) {
            let slot = rng.int(store.count);
            if (channel) {
              slot = 0;
              for (let i = 1; i < store.count; i++) if (store.positionOf[i]! < store.positionOf[slot]!) slot = i;
            }
            store.removeSwap(slot);
          }
          expect(active(store)).toBe(true);
          const q = unitRows(rng, 1, d, 6);
          const tau = 1 / Math.sqrt(d);
          const a = on('wasm', () => store.sums(q, tau, createKernelSums(d)));
          const b = on('js', () => store.sums(q, tau, createKernelSums(d)));
          const e = errors(store, q, tau, a, b);
          expect(e.out).toBeLessThan(1e-5);
          expect(e.logZ).toBeLessThan(1e-5);
        }),
        { numRuns: 12 },
      );
    });
  }
});

describe('per-slot probabilities on the Float32 kernels', () => {
  for (const spec of [undefined, { keys: 'int4' }, { keys: 'int2', values: 'int4', residual: 40, rotate: true }, { keys: 'f32', values: 'int8' }] as const) {
    it(`match the Float64 loops: ${JSON.stringify(spec) ?? 'f32'}`, () => {
      fc.assert(
        fc.property(fc.constantFrom(64, 32), fc.integer({ min: 256, max: 1200 }), fc.boolean(), fc.integer({ min: 0, max: 2 ** 30 }), (d, n, weighted, seed) => {
          const rng = new Rng(seed);
          const store = new SlotStore(d, d, { precision: spec, seed, weighted });
          const keys = unitRows(rng, n, d, 6);
          const values = unitRows(rng, n, d, 2);
          for (let t = 0; t < n; t++) store.push(keys, t * d, values, t * d, t, weighted ? rng.gaussian() : 0);
          for (let e = 0; e < 40; e++) store.removeSwap(rng.int(store.count));
          const q = unitRows(rng, 1, d, 5);
          const tau = 1 / Math.sqrt(d);
          const pa = new Float64Array(store.count);
          const pb = new Float64Array(store.count);
          const a = on('wasm', () => store.sumsWithProbs(q, tau, createKernelSums(d), pa));
          const b = on('js', () => store.sumsWithProbs(q, tau, createKernelSums(d), pb));
          const e = errors(store, q, tau, a, b);
          expect(e.out).toBeLessThan(1e-5);
          expect(e.logZ).toBeLessThan(1e-5);
          let sum = 0;
          for (let i = 0; i < store.count; i++) {
            expect(Math.abs(pa[i]! - pb[i]!)).toBeLessThanOrEqual(1e-5 * pb[i]! + 1e-12);
            sum += pa[i]!;
          }
          expect(sum).toBeCloseTo(1, 9);
        }),
        { numRuns: 10 },
      );
    });
  }
});

describe('per-slot probabilities of rows of log-weight −∞', () => {
  it('are 0, on the Float32 kernels as in the Float64 loops', () => {
    for (const spec of [undefined, { keys: 'int4' }] as const) {
      const d = 32;
      const rng = new Rng(11);
      const store = new SlotStore(d, d, { precision: spec, weighted: true });
      const n = 700;
      for (let t = 0; t < n; t++) store.push(unitRows(rng, 1, d, 6), 0, unitRows(rng, 1, d, 2), 0, t, t % 3 === 0 ? -Infinity : rng.gaussian());
      const q = unitRows(rng, 1, d, 5);
      for (const backend of ['wasm', 'js'] as const) {
        const p = new Float64Array(n);
        on(backend, () => store.sumsWithProbs(q, 1 / Math.sqrt(d), createKernelSums(d), p));
        for (let t = 0; t < n; t++) if (t % 3 === 0) expect(p[t]).toBe(0);
        else expect(p[t]).toBeGreaterThan(0);
      }
    }
  });
});

describe('relaxed SIMD detection', () => {
  it('finds no relaxed SIMD on this Node 20 by default, and the baseline kernels run', () => {
    const f = kernelFeatures();
    expect(f.simd).toBe(true);
    expect(f.relaxedSimd).toBe(process.execArgv.includes('--experimental-wasm-relaxed-simd') || Number(process.versions.node.split('.')[0]) >= 22);
  });

  it('uses the fused multiply-add build where the engine validates it, with the same answers', () => {
    const root = new URL('../../../..', import.meta.url).pathname;
    const script = `
      import { kernelFeatures, SlotStore, createKernelSums, Rng, setKernelBackend } from './packages/core/src/index.ts';
      const rng = new Rng(9);
      const d = 64, n = 2000;
      const st = new SlotStore(d, d);
      const row = new Float32Array(d);
      for (let t = 0; t < n; t++) { for (let j = 0; j < d; j++) row[j] = rng.gaussian() * 3; st.push(row, 0, row, 0, t, 0); }
      const q = new Float32Array(d).map(() => rng.gaussian());
      const a = st.sums(q, 0.2, createKernelSums(d));
      setKernelBackend('js');
      const b = st.sums(q, 0.2, createKernelSums(d));
      let e = 0, m = 0;
      for (let j = 0; j < d; j++) { e = Math.max(e, Math.abs(a.n[j] / a.z - b.n[j] / b.z)); m = Math.max(m, Math.abs(b.n[j] / b.z)); }
      console.log(JSON.stringify({ ...kernelFeatures(), err: e / m }));
    `;
    const run = (flags: string[]) => {
      const r = spawnSync(process.execPath, [...flags, '--conditions=@kv/source', '--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      return JSON.parse(r.stdout.trim().split('\n').pop()!) as { simd: boolean; relaxedSimd: boolean; err: number };
    };
    const relaxed = run(['--experimental-wasm-relaxed-simd']);
    expect(relaxed.relaxedSimd).toBe(true);
    expect(relaxed.err).toBeLessThan(1e-5);
    const baseline = run([]);
    expect(baseline.relaxedSimd).toBe(Number(process.versions.node.split('.')[0]) >= 22);
    expect(baseline.err).toBeLessThan(1e-5);
  });
});
