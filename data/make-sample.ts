// Makes the committed real-attention sample (data/real-attention): the queries, post-RoPE keys
// and values of head 0 of every layer of the tiny byte-level model reading the first 1024 bytes of
// data/kjv-ruth-1-2.txt (public domain), stored as float16 .npy with a kv-trace/1 manifest.
// Usage, from the repository root:
//   node --conditions=@kv/source --import tsx data/make-sample.ts [--model PATH]
// The model defaults to the one kv-eval finds (the repository's copy, $KV_MODEL, ../shared/models).
import { createHash } from 'node:crypto';
import { readFileSync, rmSync, statSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { writeNpyTrace } from '../packages/eval/src/workloads/traces.ts';
import { modelLocation, modelWorkload } from '../packages/eval/src/workloads/model.ts';

const here = fileURLToPath(new URL('.', import.meta.url));
const { values } = parseArgs({ options: { model: { type: 'string' } } });
const text = join(here, 'kjv-ruth-1-2.txt');
const out = join(here, 'real-attention');
const spec = { family: 'model', text, n: 1024, heads: [0], ...(values.model !== undefined ? { model: values.model } : {}) } as const;
const where = modelLocation(spec);
const sha = statSync(where.path).isFile() ? createHash('sha256').update(readFileSync(where.path)).digest('hex') : 'a directory';
const w = modelWorkload(spec);
rmSync(out, { recursive: true, force: true });
writeNpyTrace(
  out,
  w.heads.map((stream) => {
    const [, layer, head] = /^L(\d+)\.H(\d+)$/.exec(stream.label)!.map(Number);
    return { layer: layer!, head: head!, stream };
  }),
  w.tau,
  { dtype: 'f2', model: `${basename(where.path)} (sha256 ${sha}), head 0 of each layer, reading bytes [0, ${w.length}) of ${relative(join(here, '..'), text)}; float16` },
);
let bytes = 0;
for (const h of w.heads) bytes += 3 * 2 * h.length * h.keyDim;
console.log(`wrote ${relative(process.cwd(), out)}: ${w.heads.length} heads × ${w.length} tokens, d = ${w.keyDim}, ${(bytes / 1024 / 1024).toFixed(2)} MiB of float16`);
