// A chat with a transformers.js model whose KV cache is StreamingLLM (4 attention sinks plus the
// most recent tokens) holding 1/8 of the memory the full cache would hold. The model is the
// shared tiny byte-level Llama (token id = byte value), loaded offline. Halfway through, the
// conversation is saved to a file and resumed from it, as a chat app would after a restart.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AutoModelForCausalLM, env } from '@huggingface/transformers';
import { exactPolicy, PolicyRegistry } from '@kv/core';
import { heuristicPolicies } from '@kv/heuristics';
import { CompressedSession } from '@kv/transformers';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const models = process.env.KV_MODELS ?? join(repo, '..', 'shared', 'models');
if (!existsSync(join(models, 'tinyllama-bytes-onnx'))) {
  console.error(`no model at ${models}/tinyllama-bytes-onnx: set KV_MODELS to the folder that holds it`);
  process.exit(1);
}
env.allowRemoteModels = false;
env.localModelPath = models;
const model = await AutoModelForCausalLM.from_pretrained('tinyllama-bytes-onnx', { dtype: 'fp32' });

const registry = new PolicyRegistry().register(exactPolicy, ...heuristicPolicies);
// 1/8 of the float32 bytes the full cache would hold for the tokens seen so far, never below
// 64 rows' worth (the first sentences would otherwise run on a handful of rows).
const rowBytes = 4 * (64 + 64) + 4;
const options = {
  policy: { policy: 'streaming-llm', params: { sinks: 4 } },
  budget: { fraction: 1 / 8, minBytes: 64 * rowBytes },
  registry,
  seed: 1,
};
const turns = [
  'Q: What is the meaning of life?\nA:',
  '\nQ: Why is the sky blue?\nA:',
  '\nQ: How many angels can dance on the head of a pin?\nA:',
  '\nQ: What did the Lord say unto Moses?\nA:',
  '\nQ: Is there a fortune in this cookie?\nA:',
  '\nQ: Who begat whom?\nA:',
  '\nQ: What is a computer?\nA:',
  '\nQ: Where shall wisdom be found?\nA:',
  '\nQ: What time is it?\nA:',
];
const bytes = (s: string) => new TextEncoder().encode(s);
const text = (t: ArrayLike<number>) => new TextDecoder().decode(Uint8Array.from(t));
const heads = 4 * 3; // 4 layers of 3 KV heads, 64 floats per key and per value
const fullCacheBytes = (tokens: number) => heads * 4 * (64 + 64) * tokens;
const budgetBytes = (tokens: number) => heads * Math.max(fullCacheBytes(tokens) / heads / 8, options.budget.minBytes);
const reply = { maxNewTokens: 200, sample: { temperature: 0.7, topK: 40 }, stopTokens: [10] };

let s = await CompressedSession.create(model, options);
const folder = mkdtempSync(join(tmpdir(), 'kv-chat-'));
let failures = 0;
for (let i = 0; i < turns.length; i++) {
  const { tokens } = await s.generate(bytes(turns[i]!), reply);
  const full = fullCacheBytes(s.position);
  console.log(`${turns[i]!.trim()}${text(tokens).trimEnd()}`);
  console.log(
    `  [${s.position} tokens seen; cache ${(s.bytes / 1024).toFixed(1)} KiB = ${(s.bytes / full).toFixed(3)} of the full cache's ${(full / 1024).toFixed(0)} KiB; ` +
      `past ${s.pastRows} rows per head (largest ${s.maxPastRows})]`,
  );
  // The check: the policies never hold more than their budget (1/8 of the full cache past the floor).
  if (s.bytes > budgetBytes(s.position)) {
    console.error(`  the cache holds ${s.bytes} bytes, more than its budget of ${budgetBytes(s.position)}`);
    failures++;
  }
  if (i === 1) {
    // Save the conversation and resume it from the file, as after a restart.
    const file = join(folder, 'chat.kvsession');
    writeFileSync(file, s.save());
    const saved = readFileSync(file);
    s = await CompressedSession.restore(model, new Uint8Array(saved.buffer, saved.byteOffset, saved.length), { registry });
    console.log(`  [saved to ${file} (${(saved.length / 1024).toFixed(1)} KiB) and resumed at token ${s.position}]`);
  }
}
rmSync(folder, { recursive: true, force: true });
if (failures > 0) process.exit(1);
console.log('ok');
