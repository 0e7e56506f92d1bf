// Makes the in-repo float16 copy of the shared tiny model (packages/llm/models/tinyllama-bytes-f16/)
// from the float32 llama2.c checkpoint, so a clone without ../shared/models can run the model.
//   node --conditions=@kv/source --import tsx packages/llm/scripts/make-f16-model.ts [path/to/models-dir]
//   (add --check to verify the committed files instead of writing them)
// Input: tinyllama-bytes.bin (sha256 checked), sample-validation.txt and reference-logits.json from
// ../shared/models (or the directory given). Output: config.json and model.safetensors (Hugging Face
// layout, every tensor float16, nearest value, ties to even), and the two companion files copied.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseLlama2c, toHuggingFace } from '../src/index.js';

const SOURCE_SHA256 = 'eafa86b6c45465edd2262ad9b4be10f59cccaf0787a890fca84e88c5e2fcdc6e';
const pkg = resolve(fileURLToPath(new URL('.', import.meta.url)), '..');
const args = process.argv.slice(2);
const check = args.includes('--check');
const from = resolve(args.find((a) => !a.startsWith('--')) ?? join(pkg, '..', '..', '..', 'shared', 'models'));
const out = join(pkg, 'models', 'tinyllama-bytes-f16');

const bin = readFileSync(join(from, 'tinyllama-bytes.bin'));
const sha = createHash('sha256').update(bin).digest('hex');
if (sha !== SOURCE_SHA256) throw new Error(`${join(from, 'tinyllama-bytes.bin')} has sha256 ${sha}, expected ${SOURCE_SHA256}`);
const { config, safetensors } = toHuggingFace(parseLlama2c(new Uint8Array(bin)), { dtype: 'F16' });
const files: Record<string, Uint8Array> = {
  'config.json': new TextEncoder().encode(`${JSON.stringify(config, null, 2)}\n`),
  'model.safetensors': safetensors[0]!,
  'sample-validation.txt': readFileSync(join(from, 'sample-validation.txt')),
  'reference-logits.json': readFileSync(join(from, 'reference-logits.json')),
};
let stale = 0;
if (!check) mkdirSync(out, { recursive: true });
for (const [name, bytes] of Object.entries(files)) {
  const path = join(out, name);
  const digest = createHash('sha256').update(bytes).digest('hex');
  if (check) {
    const same = Buffer.compare(readFileSync(path), Buffer.from(bytes)) === 0;
    if (!same) stale++;
    console.log(`${same ? 'ok   ' : 'STALE'} ${path} (${bytes.length} bytes, sha256 ${digest})`);
  } else {
    writeFileSync(path, bytes);
    console.log(`wrote ${path} (${bytes.length} bytes, sha256 ${digest})`);
  }
}
process.exit(stale ? 1 : 0);
