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

// The prompt in one call (as ORT users prefill), then single-token calls feeding each call's
// `present.*` back as the next `past_key_values.*`. Each call builds its small input tensors, as
// any caller must.
class OrtDecoder {
  private out: Record<string, OrtTensor> = {};
  private pos = 0;

  constructor(
    private readonly ort: Ort,
    private readonly session: OrtSession,
    private readonly layers: number,
  ) {}

  async prefill(tokens: Uint8Array, kvHeads: number, headDim: number): Promise<void> {
    const n = tokens.length;
    const feeds: Record<string, OrtTensor> = {
      input_ids: int64(this.ort, tokens, [1, n]),
      attention_mask: int64(this.ort, new Array<number>(n).fill(1), [1, n]),
      position_ids: int64(this.ort, Array.from({ length: n }, (_, i) => i), [1, n]),
    };
    for (let l = 0; l < this.layers; l++) {
      for (const kv of ['key', 'value']) feeds[`past_key_values.${l}.${kv}`] = new this.ort.Tensor('float32', new Float32Array(0), [1, kvHeads, 0, headDim]);
    }
    this.out = await this.session.run(feeds);
    this.pos = n;
  }

  async step(token: number): Promise<void> {
    const p = this.pos;
    const f: Record<string, OrtTensor> = {
      input_ids: new this.ort.Tensor('int64', BigInt64Array.of(BigInt(token)), [1, 1]),
      attention_mask: new this.ort.Tensor('int64', new BigInt64Array(p + 1).fill(1n), [1, p + 1]),
      position_ids: new this.ort.Tensor('int64', BigInt64Array.of(BigInt(p)), [1, 1]),
    };
    for (let l = 0; l < this.layers; l++) for (const kv of ['key', 'value']) f[`past_key_values.${l}.${kv}`] = this.out[`present.${l}.${kv}`]!;
    this.out = await this.session.run(f);
    this.pos++;
  }
}

// Neither side's timed steps should pay for the other's garbage (kv's prefill buffers, ORT's
// tensors): collect before the timed steps when node runs with --expose-gc (bench:compare does).
function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

// One round at one context: both prefill the same context, then take `steps` single-token steps
// in alternating blocks of BLOCK (kv's block, then ORT's), so a change of the machine's load
// falls on both. Returns both rates in tokens/s.
const BLOCK = 8;
async function round(model: LlamaModel, ort: Ort, session: OrtSession, tokens: Uint8Array, context: number, steps: number): Promise<{ kv: number; ort: number }> {
  const c = model.config;
  const kv = model.decoder(model.createCache({ policy: 'exact' }));
  kv.prefill(tokens.subarray(0, context), 0);
  const theirs = new OrtDecoder(ort, session, c.nLayers);
  await theirs.prefill(tokens.subarray(0, context), c.nKvHeads, c.headDim);
  collectGarbage();
  let kvMs = 0;
  let ortMs = 0;
  for (let s = 0; s < steps; s += BLOCK) {
    const n = Math.min(BLOCK, steps - s);
    let t0 = performance.now();
    for (let i = 0; i < n; i++) kv.step(tokens[context + s + i]!);
    kvMs += performance.now() - t0;
    t0 = performance.now();
    for (let i = 0; i < n; i++) await theirs.step(tokens[context + s + i]!);
    ortMs += performance.now() - t0;
  }
  return { kv: (steps / kvMs) * 1000, ort: (steps / ortMs) * 1000 };
}

/**
 * Rounds at each context (see `round`). `tokens` must hold context + steps bytes (the text is
 * repeated to reach 2K and beyond: the model's seq_len is 1024, and positions past it still
 * compute the same work).
 */
export async function compareDecode(model: LlamaModel, ort: Ort, session: OrtSession, tokens: Uint8Array, contexts: readonly number[], steps: number, rounds: number): Promise<DecodeFigure[]> {
  const out: DecodeFigure[] = [];
  // Warm both up: kv's kernels tier up, and ORT's speed rises over its first rounds (measured:
  // 640 → 1070 tokens/s at 256 over four rounds) as its arena settles.
  for (let r = 0; r < 4; r++) await round(model, ort, session, tokens, contexts[0]!, steps);
  for (const context of contexts) {
    const kv: number[] = [];
    const ortRates: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const x = await round(model, ort, session, tokens, context, steps);
      kv.push(x.kv);
      ortRates.push(x.ort);
    }
    out.push({ context, kv, ort: ortRates });
  }
  return out;
}
