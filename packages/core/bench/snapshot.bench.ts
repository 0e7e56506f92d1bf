// Snapshot save and load throughput: `snapshot(cache)` (encode + CRC-32) and `restore(bytes)`
// (validate + CRC-32 + create + loadState) of caches holding 4K–64K float32 rows, d = s = 128, and
// of a model cache of 32 heads. MB/s is snapshot bytes over the median wall time of 7 trials.
//
//   node --conditions=@kv/source --import tsx packages/core/bench/snapshot.bench.ts
//   (or `pnpm bench snapshot`)
import { loadavg } from 'node:os';
import { crc32, exactPolicy, type HeadCache, ModelCache, PolicyRegistry, restore, restoreModel, Rng, snapshot, snapshotModel } from '../src/index.js';

const registry = new PolicyRegistry().register(exactPolicy);
const TRIALS = 7;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

function time(fn: () => unknown): number {
  const times: number[] = [];
  for (let i = 0; i <= TRIALS; i++) {
    const t0 = performance.now();
    fn();
    if (i > 0) times.push(performance.now() - t0);
  }
  return median(times);
}

function filled(n: number, d: number): HeadCache {
  const rng = new Rng(n);
  const cache = registry.create({ policy: 'exact', keyDim: d, valueDim: d });
  const k = new Float32Array(d);
  const v = new Float32Array(d);
  for (let t = 0; t < n; t++) cache.append(rng.fillGaussian(k), rng.fillGaussian(v));
  return cache;
}

console.log(`load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}\n`);
console.log('| cache | bytes held | snapshot bytes | save MB/s | load MB/s | CRC-32 alone MB/s |');
console.log('|---|---:|---:|---:|---:|---:|');
for (const n of [4096, 16384, 65536]) {
  const cache = filled(n, 128);
  const bytes = snapshot(cache);
  const save = time(() => snapshot(cache));
  const load = time(() => restore(bytes, registry));
  const crc = time(() => crc32(bytes));
  const mb = bytes.length / 1e6;
  console.log(`| exact, ${n} rows, d = s = 128 | ${cache.bytes} | ${bytes.length} | ${(mb / (save / 1e3)).toFixed(0)} | ${(mb / (load / 1e3)).toFixed(0)} | ${(mb / (crc / 1e3)).toFixed(0)} |`);
}
{
  const model = new ModelCache({ layers: 4, kvHeads: 8, keyDim: 128, valueDim: 128, policy: { policy: 'exact' }, registry });
  const rng = new Rng(1);
  const k = new Float32Array(8 * 128);
  const v = new Float32Array(8 * 128);
  for (let t = 0; t < 2048; t++) for (let l = 0; l < 4; l++) model.append(l, rng.fillGaussian(k), rng.fillGaussian(v));
  const bytes = snapshotModel(model);
  const save = time(() => snapshotModel(model));
  const load = time(() => restoreModel(bytes, registry));
  const mb = bytes.length / 1e6;
  console.log(`| model, 4 layers × 8 heads × 2048 rows | ${model.bytes} | ${bytes.length} | ${(mb / (save / 1e3)).toFixed(0)} | ${(mb / (load / 1e3)).toFixed(0)} | |`);
}
