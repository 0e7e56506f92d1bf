// Child process of container-threads.test.ts: many small threaded attends, so that a lost wake-up
// between the main thread and a worker (a deadlock) shows up as a timeout of this process.
//   node --conditions=@kv/source --import tsx packages/core/test/threaded-attends.ts <attends>
import { ExactCache, ModelCache, Rng } from '../src/index.js';

const d = 64;
const heads = 4;
const cache = new ModelCache({ layers: 1, kvHeads: heads, keyDim: d, valueDim: d, caches: () => new ExactCache({ policy: 'exact', keyDim: d, valueDim: d }), threads: 2 });
const rng = new Rng(1);
const row = new Float32Array(heads * d);
for (let t = 0; t < 300; t++) {
  rng.fillGaussian(row, 1);
  cache.append(0, row, row);
}
const q = rng.fillGaussian(new Float32Array(heads * d), 1);
const out = new Float32Array(heads * d);
const attends = Number(process.argv[2] ?? 20000);
for (let i = 0; i < attends; i++) cache.attend(0, q, out);
cache.close();
console.log(`done ${attends}`);
