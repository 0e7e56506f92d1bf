import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSafetensors } from '@kv/llm';
import { afterAll, describe, expect, it } from 'vitest';
import { TraceFormatError } from '../errors.js';
import { buildWorkload } from './build.js';
import { npyBytes } from './npy-spec.test-helper.js';
import { syntheticWorkload } from './synthetic.js';
import { loadNpyTrace, loadSafetensorsTrace, writeNpyTrace, writeSafetensorsTrace } from './traces.js';

const dir = mkdtempSync(join(tmpdir(), 'kv-eval-traces-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('trace loaders', () => {
  const a = syntheticWorkload({ family: 'gaussian', n: 40, d: 8, s: 4 }, 1).heads[0]!;
  const b = syntheticWorkload({ family: 'rope', n: 40, d: 8, s: 4 }, 2).heads[0]!;

  it('round-trips a folder trace (manifest + .npy) with two heads', () => {
    const folder = join(dir, 'npy');
    writeNpyTrace(folder, [
      { layer: 0, head: 0, stream: a },
      { layer: 1, head: 3, stream: b },
    ], 0.25);
    const w = buildWorkload({ family: 'npy', path: folder }, 0);
    expect(w.heads.map((h) => h.label)).toEqual(['L0.H0', 'L1.H3']);
    expect(w.tau).toBe(0.25);
    expect(w.heads[0]!.keys).toEqual(a.keys);
    expect(w.heads[0]!.queries).toEqual(a.queries);
    expect(w.heads[1]!.values).toEqual(b.values);
    expect(w.keyDim).toBe(8);
    expect(w.valueDim).toBe(4);
    const limited = loadNpyTrace({ family: 'npy', path: join(folder, 'manifest.json'), n: 10, maxHeads: 1 });
    expect(limited.heads.length).toBe(1);
    expect(limited.length).toBe(10);
    expect(limited.heads[0]!.keys).toEqual(a.keys.subarray(0, 80));
  });

  it('loads a manifest whose files are v2.0 / float64 .npy written per the spec', () => {
    const folder = join(dir, 'spec');
    writeNpyTrace(folder, []); // creates the folder
    writeFileSync(join(folder, 'q.npy'), npyBytes({ version: 2, descr: '<f8', shape: [40, 8], data: Float64Array.from(a.queries) }));
    writeFileSync(join(folder, 'k.npy'), npyBytes({ version: 1, descr: '<f4', shape: [40, 8], data: a.keys }));
    writeFileSync(join(folder, 'v.npy'), npyBytes({ version: 2, descr: '<f4', shape: [40, 4], data: a.values }));
    writeFileSync(join(folder, 'manifest.json'), JSON.stringify({ format: 'kv-trace/1', heads: [{ layer: 2, head: 1, q: 'q.npy', k: 'k.npy', v: 'v.npy' }] }));
    const w = loadNpyTrace({ family: 'npy', path: folder });
    expect(w.heads[0]!.queries).toEqual(a.queries);
    expect(w.heads[0]!.values).toEqual(a.values);
    expect(w.tau).toBeCloseTo(1 / Math.sqrt(8), 15);
  });

  it('round-trips a .safetensors trace', () => {
    const file = join(dir, 't.safetensors');
    writeSafetensorsTrace(file, [
      { layer: 1, head: 0, stream: b },
      { layer: 0, head: 2, stream: a },
    ], 0.5);
    const w = loadSafetensorsTrace({ family: 'safetensors', path: file });
    expect(w.heads.map((h) => h.label)).toEqual(['L0.H2', 'L1.H0']);
    expect(w.heads[0]!.keys).toEqual(a.keys);
    expect(w.heads[1]!.queries).toEqual(b.queries);
    expect(w.tau).toBe(0.5);
  });

  it('names a folder trace after its folder and a safetensors trace after its file', () => {
    const folder = join(dir, 'tinyllama-L0');
    writeNpyTrace(folder, [{ layer: 0, head: 0, stream: a }]);
    expect(loadNpyTrace({ family: 'npy', path: folder }).name).toBe('tinyllama-L0');
    expect(loadNpyTrace({ family: 'npy', path: `${folder}/` }).name).toBe('tinyllama-L0');
    expect(loadNpyTrace({ family: 'npy', path: join(folder, 'manifest.json') }).name).toBe('tinyllama-L0');
    expect(loadNpyTrace({ family: 'npy', path: folder, name: 'mine' }).name).toBe('mine');
    const file = join(dir, 'llama.L3.safetensors');
    writeSafetensorsTrace(file, [{ layer: 3, head: 0, stream: a }]);
    expect(loadSafetensorsTrace({ family: 'safetensors', path: file }).name).toBe('llama.L3');
    expect(loadSafetensorsTrace({ family: 'safetensors', path: file, name: 'mine' }).name).toBe('mine');
  });

  it('rejects malformed traces with TraceFormatError', () => {
    expect(() => loadNpyTrace({ family: 'npy', path: join(dir, 'missing') })).toThrow(TraceFormatError);
    const bad = join(dir, 'bad');
    writeNpyTrace(bad, [{ layer: 0, head: 0, stream: a }]);
    writeFileSync(join(bad, 'manifest.json'), JSON.stringify({ format: 'other', heads: [] }));
    expect(() => loadNpyTrace({ family: 'npy', path: bad })).toThrow(/kv-trace\/1/);
    writeFileSync(join(bad, 'manifest.json'), JSON.stringify({ format: 'kv-trace/1', heads: [{ layer: 0, head: 0, q: 'L0.H0.q.npy', k: 'L0.H0.k.npy', v: 'nope.npy' }] }));
    expect(() => loadNpyTrace({ family: 'npy', path: bad })).toThrow(TraceFormatError);
    writeFileSync(join(bad, 'short.npy'), npyBytes({ version: 1, descr: '<f4', shape: [39, 4], data: a.values.subarray(0, 156) }));
    writeFileSync(join(bad, 'manifest.json'), JSON.stringify({ format: 'kv-trace/1', heads: [{ layer: 0, head: 0, q: 'L0.H0.q.npy', k: 'L0.H0.k.npy', v: 'short.npy' }] }));
    expect(() => loadNpyTrace({ family: 'npy', path: bad })).toThrow(/rows, expected equal/);
    const st = join(dir, 'missing-v.safetensors');
    writeFileSync(st, writeSafetensors({ 'layer0.head0.q': { shape: [40, 8], data: a.queries }, 'layer0.head0.k': { shape: [40, 8], data: a.keys } }));
    expect(() => loadSafetensorsTrace({ family: 'safetensors', path: st })).toThrow(/layer0\.head0\.v is missing/);
    writeFileSync(st, new Uint8Array([1, 2, 3]));
    expect(() => loadSafetensorsTrace({ family: 'safetensors', path: st })).toThrow(TraceFormatError);
  });
});
