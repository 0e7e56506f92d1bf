// Decode tokens/s at a long context, in one run: transformers.js generate() with its full
// DynamicCache vs a CompressedSession (and a CompressedCache in generate()) holding 1/8 of the
// memory with StreamingLLM. Rounds alternate between the engines and the median is reported,
// so machine load hits both alike.
//
//   pnpm --filter @kv/transformers bench [--context 2048] [--tokens 64] [--rounds 3] [--threads N]
//   (--threads: ONNX Runtime intra-op threads, default its own choice)
//   (models from $KV_MODELS, default ../shared/models beside the repository)
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { AutoModelForCausalLM, DynamicCache, env, Tensor } from '@huggingface/transformers';
import { exactPolicy, PolicyRegistry } from '@kv/core';
import { heuristicPolicies } from '@kv/heuristics';
import { type CausalLM, CompressedCache, CompressedSession, decoderShape } from '../src/index.js';

const { values } = parseArgs({ options: { context: { type: 'string' }, tokens: { type: 'string' }, rounds: { type: 'string' }, threads: { type: 'string' } } });
const context = Number(values.context ?? 2048);
const steps = Number(values.tokens ?? 64);
const rounds = Number(values.rounds ?? 3);
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const models = process.env.KV_MODELS ?? join(root, '..', 'shared', 'models');
if (!existsSync(join(models, 'tinyllama-bytes-onnx'))) throw new Error(`no ${models}/tinyllama-bytes-onnx; set KV_MODELS to the folder holding it`);

env.allowRemoteModels = false;
env.localModelPath = models;
const threads = values.threads !== undefined ? Number(values.threads) : undefined;
const sessionOptions = threads !== undefined ? { session_options: { intraOpNumThreads: threads, interOpNumThreads: 1 } } : {};
const model = (await AutoModelForCausalLM.from_pretrained('tinyllama-bytes-onnx', { dtype: 'fp32', ...sessionOptions })) as unknown as CausalLM & {
  generate(options: Record<string, unknown>): Promise<unknown>;
};
const shape = decoderShape(model);
const sample = readFileSync(join(models, 'sample-validation.txt'));
const ids = Array.from({ length: context + steps + 1 }, (_, i) => sample[i % sample.length]!);
const registry = new PolicyRegistry().register(exactPolicy, ...heuristicPolicies);
const policy = { policy: 'streaming-llm', params: { sinks: 4 } };
const budget = { fraction: 1 / 8 };
const encode = (n: number) => ({
  input_ids: new Tensor('int64', BigInt64Array.from(ids.slice(0, n), BigInt), [1, n]),
  attention_mask: new Tensor('int64', new BigInt64Array(n).fill(1n), [1, n]),
});
const fullBytes = (rows: number) => 8 * shape.layers * shape.kvHeads * rows * shape.headDim;
const mib = (b: number) => `${(b / 2 ** 20).toFixed(2)} MiB`;

interface Row {
  label: string;
  rate: number[];
  memory: string;
}

// Each engine first reads the context (untimed), then decodes `steps` tokens greedily (timed):
// `steps` forward calls at contexts context … context + steps − 1.
async function fullCache(): Promise<[number, string]> {
  const past = new DynamicCache();
  await model.generate({ ...encode(context), max_new_tokens: 1, past_key_values: past });
  const t0 = performance.now();
  await model.generate({ ...encode(context + 1), max_new_tokens: steps, past_key_values: past });
  const rate = (1000 * steps) / (performance.now() - t0);
  return [rate, `past ${past.get_seq_length()} rows/head, ${mib(fullBytes(past.get_seq_length()))}`];
}

async function session(): Promise<[number, string]> {
  const s = await CompressedSession.create(model, { policy, budget, registry });
  await s.prefill(ids.slice(0, context));
  const t0 = performance.now();
  await s.generate([], { maxNewTokens: steps });
  const rate = (1000 * steps) / (performance.now() - t0);
  return [rate, `past ${s.pastRows} rows/head (max ${s.maxPastRows}), policies ${mib(s.bytes)} + past copy ${mib(s.pastBytes)}`];
}

async function compressedGenerate(): Promise<[number, string]> {
  const past = await CompressedCache.create(model, { policy, budget, registry });
  await model.generate({ ...encode(context), max_new_tokens: 1, past_key_values: past });
  const t0 = performance.now();
  await model.generate({ ...encode(context + 1), max_new_tokens: steps, past_key_values: past });
  const rate = (1000 * steps) / (performance.now() - t0);
  return [rate, `past ${past.pastRows} rows/head (max ${past.maxPastRows}), policies ${mib(past.bytes)}`];
}

const rows: Row[] = [
  { label: 'transformers.js generate(), full DynamicCache', rate: [], memory: '' },
  { label: 'CompressedSession, streaming-llm at 1/8', rate: [], memory: '' },
  { label: 'generate() with a CompressedCache, streaming-llm at 1/8', rate: [], memory: '' },
];
const runs = [fullCache, session, compressedGenerate];
await session(); // warm-up: first calls allocate ONNX Runtime's arenas
for (let r = 0; r < rounds; r++) {
  for (let i = 0; i < runs.length; i++) {
    const [rate, memory] = await runs[i]!();
    rows[i]!.rate.push(rate);
    rows[i]!.memory = memory;
  }
}
const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1]!;
console.log(`tinyllama-bytes-onnx (${shape.layers} layers, ${shape.queryHeads}/${shape.kvHeads} heads of ${shape.headDim}): ${steps} greedy decode steps after a ${context}-token context, median of ${rounds} alternating rounds, ONNX Runtime threads: ${threads ?? 'default'}`);
for (const row of rows) console.log(`${row.label.padEnd(58)} ${median(row.rate).toFixed(1).padStart(7)} tok/s   ${row.memory}`);
const base = median(rows[0]!.rate);
console.log(`speed-up over the full cache: session ${(median(rows[1]!.rate) / base).toFixed(2)}x, generate() with CompressedCache ${(median(rows[2]!.rate) / base).toFixed(2)}x`);
