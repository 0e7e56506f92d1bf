// @kv/llm's decoder vs onnxruntime-node on the same weights (tinyllama-bytes as llama2.c .bin and
// as ONNX), one thread each, exact cache: decode tokens per second at a given context length.
import type { LlamaModel } from '../../src/index.js';

/** One context's figures, tokens per second, one value per round. */
export interface DecodeFigure {
  readonly context: number;
  readonly kv: number[];
  readonly ort: number[];
}

// The slice of onnxruntime-node's API used here (it is an optional devDependency).
interface OrtTensor {
  readonly dims: readonly number[];
}
interface OrtSession {
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
}
interface Ort {
  Tensor: new (type: string, data: BigInt64Array | Float32Array, dims: number[]) => OrtTensor;
  InferenceSession: { create(path: string, options: object): Promise<OrtSession> };
}

/** onnxruntime-node, or the reason it cannot be loaded. */
export async function loadOrt(): Promise<Ort | string> {
  try {
    const mod = (await import('onnxruntime-node')) as unknown as { default?: Ort } & Ort;
    return mod.default ?? mod;
  } catch (e) {
    return (e as Error).message.split('\n')[0]!;
  }
}

/** A session on the ONNX export, one thread, sequential execution. */
export function ortSession(ort: Ort, path: string): Promise<OrtSession> {
  return ort.InferenceSession.create(path, { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' });
}

const int64 = (ort: Ort, xs: ArrayLike<number>, dims: number[]): OrtTensor => new ort.Tensor('int64', BigInt64Array.from(Array.from(xs, BigInt)), dims);

// The prompt in one call (as ORT users prefill), then `steps` calls of one token each, feeding
// each call's `present.*` back as the next `past_key_values.*`; only the single-token calls are
// timed. Each call builds its small input tensors, as any caller must.
async function ortRound(ort: Ort, session: OrtSession, tokens: Uint8Array, context: number, steps: number, layers: number, kvHeads: number, headDim: number): Promise<number> {
  const feeds: Record<string, OrtTensor> = {
    input_ids: int64(ort, tokens.subarray(0, context), [1, context]),
    attention_mask: int64(ort, new Array<number>(context).fill(1), [1, context]),
    position_ids: int64(ort, Array.from({ length: context }, (_, i) => i), [1, context]),
  };
  for (let l = 0; l < layers; l++) {
    for (const kv of ['key', 'value']) feeds[`past_key_values.${l}.${kv}`] = new ort.Tensor('float32', new Float32Array(0), [1, kvHeads, 0, headDim]);
  }
  let out = await session.run(feeds);
  collectGarbage();
  const t0 = performance.now();
  for (let s = 0; s < steps; s++) {
    const p = context + s;
    const f: Record<string, OrtTensor> = {
      input_ids: new ort.Tensor('int64', BigInt64Array.of(BigInt(tokens[p]!)), [1, 1]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(p + 1).fill(1n), [1, p + 1]),
      position_ids: new ort.Tensor('int64', BigInt64Array.of(BigInt(p)), [1, 1]),
    };
    for (let l = 0; l < layers; l++) for (const kv of ['key', 'value']) f[`past_key_values.${l}.${kv}`] = out[`present.${l}.${kv}`]!;
    out = await session.run(f);
  }
  return (steps / (performance.now() - t0)) * 1000;
}

// Neither side's timed steps should pay for the other's garbage (kv's prefill buffers, ORT's
// tensors): collect before each timed loop when node runs with --expose-gc (bench:compare does).
function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

function kvRound(model: LlamaModel, tokens: Uint8Array, context: number, steps: number): number {
  const decoder = model.decoder(model.createCache({ policy: 'exact' }));
  decoder.prefill(tokens.subarray(0, context), 0);
  collectGarbage();
  const t0 = performance.now();
  for (let s = 0; s < steps; s++) decoder.step(tokens[context + s]!);
  return (steps / (performance.now() - t0)) * 1000;
}

/**
 * Alternating rounds (kv, then ORT) at each context. `tokens` must hold context + steps bytes
 * (the text is repeated to reach 2K and beyond: the model's seq_len is 1024, and positions past it
 * still compute the same work).
 */
export async function compareDecode(model: LlamaModel, ort: Ort, session: OrtSession, tokens: Uint8Array, contexts: readonly number[], steps: number, rounds: number): Promise<DecodeFigure[]> {
  const c = model.config;
  const out: DecodeFigure[] = [];
  // Warm both up: kv's kernels tier up, and ORT's speed rises over its first rounds (measured:
  // 640 → 1070 tokens/s at 256 over four rounds) as its arena settles.
  for (let r = 0; r < 4; r++) {
    kvRound(model, tokens, contexts[0]!, steps);
    await ortRound(ort, session, tokens, contexts[0]!, steps, c.nLayers, c.nKvHeads, c.headDim);
  }
  for (const context of contexts) {
    const kv: number[] = [];
    const ortRates: number[] = [];
    for (let r = 0; r < rounds; r++) {
      kv.push(kvRound(model, tokens, context, steps));
      ortRates.push(await ortRound(ort, session, tokens, context, steps, c.nLayers, c.nKvHeads, c.headDim));
    }
    out.push({ context, kv, ort: ortRates });
  }
  return out;
}
