import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { ModelCache, type ModelCacheOptions } from '@kv/core';
import { LlamaModel, parseHuggingFace, parseLlama2c } from '@kv/llm';
import { findModel, findRepoRoot, whereToPutAModel } from '@kv/llm/node';
import { ConfigError } from '../errors.js';
import { streamRadius } from './synthetic.js';
import type { HeadStream, ModelWorkloadSpec, Workload } from './types.js';

/**
 * The model a `model` workload runs: the spec's path, else the one `@kv/llm/node` finds (the
 * repository's copy, `$KV_MODEL`, `../shared/models`).
 *
 * @param spec - The workload spec.
 * @returns The model path and the folder of its companion files (the sample text).
 * @throws {@link ConfigError} when no model is found.
 * @example
 * ```ts
 * import { modelLocation } from '@kv/eval';
 * modelLocation({ family: 'model' }).path; // …/tinyllama-bytes.bin
 * ```
 */
export function modelLocation(spec: ModelWorkloadSpec): {
  /** The model file. */
  path: string;
  /** The folder of its companion files (the sample text). */
  dir: string;
} {
  if (spec.model !== undefined) {
    const p = resolve(spec.model);
    if (!existsSync(p)) throw new ConfigError(`model workload: ${spec.model} does not exist`);
    return { path: p, dir: statSync(p).isDirectory() ? p : dirname(p) };
  }
  const root = findRepoRoot();
  const found = findModel(root);
  if (!found) throw new ConfigError(`model workload: ${whereToPutAModel(root).replace(/\n/g, ' ')}`);
  return found;
}

// A synchronous twin of @kv/llm/node's loadModel (workloads are built synchronously, in workers too).
function readModel(path: string): LlamaModel {
  const st = statSync(path);
  if (st.isDirectory()) {
    if (existsSync(join(path, 'config.json'))) {
      const config = JSON.parse(readFileSync(join(path, 'config.json'), 'utf8')) as Record<string, unknown>;
      const files = readdirSync(path).filter((f) => f.endsWith('.safetensors')).sort();
      return new LlamaModel(parseHuggingFace({ config, safetensors: files.map((f) => new Uint8Array(readFileSync(join(path, f)))) }));
    }
    const bins = readdirSync(path).filter((f) => f.endsWith('.bin')).sort();
    if (bins.length !== 1) throw new ConfigError(`model workload: ${path} holds neither config.json nor exactly one .bin checkpoint`);
    return readModel(join(path, bins[0]!));
  }
  return new LlamaModel(parseLlama2c(new Uint8Array(readFileSync(path))));
}

// Records the queries, keys and values each layer sees while an exact cache answers.
class RecordingCache extends ModelCache {
  readonly q: Float32Array[] = [];
  readonly k: Float32Array[] = [];
  readonly v: Float32Array[] = [];
  private readonly lastLayer: number;
  private t = 0;

  constructor(options: ModelCacheOptions, n: number) {
    super(options);
    const qh = options.queryHeads ?? options.kvHeads;
    for (let l = 0; l < options.layers; l++) {
      this.q.push(new Float32Array(n * qh * options.keyDim));
      this.k.push(new Float32Array(n * options.kvHeads * options.keyDim));
      this.v.push(new Float32Array(n * options.kvHeads * options.valueDim));
    }
    this.lastLayer = options.layers - 1;
  }

  override append(layer: number, keys: Float32Array, values: Float32Array): void {
    this.k[layer]!.set(keys, this.t * keys.length);
    this.v[layer]!.set(values, this.t * values.length);
    super.append(layer, keys, values);
  }

  override attend(layer: number, queries: Float32Array, out: Float32Array): Float32Array {
    this.q[layer]!.set(queries, this.t * queries.length);
    const r = super.attend(layer, queries, out);
    if (layer === this.lastLayer) this.t++;
    return r;
  }
}

const built = new Map<string, Workload>();

function indices(chosen: readonly number[] | undefined, count: number, what: string): number[] {
  const all = Array.from({ length: count }, (_, i) => i);
  if (chosen === undefined) return all;
  for (const i of chosen) if (i >= count) throw new ConfigError(`model workload: ${what} ${i} does not exist (the model has ${count})`);
  return [...chosen];
}

/**
 * Runs a Llama model (`@kv/llm`, exact attention) over a text and returns its attention as a
 * workload: one stream per (layer, query head) with the queries and post-RoPE keys as the cache
 * sees them. Built once per process and spec.
 *
 * @param spec - Model, text, length, layers and heads.
 * @returns The workload (τ = 1/√head_dim, as the model scores).
 * @throws {@link ConfigError} when the model or text cannot be found or read, or a layer/head does not exist;
 *   `InvalidParamsError`, `DimensionMismatchError` or `NonFiniteInputError` (from `@kv/core`) for
 *   a model file that loads but whose shape or keys and values the cache refuses (a corrupt model).
 * @example
 * ```ts
 * import { modelWorkload } from '@kv/eval';
 * const w = modelWorkload({ family: 'model', n: 256, layers: [0], heads: [0, 1] });
 * w.heads.map((h) => h.label); // ['L0.H0', 'L0.H1']
 * ```
 */
export function modelWorkload(spec: ModelWorkloadSpec): Workload {
  const where = modelLocation(spec);
  const textPath = spec.text !== undefined ? resolve(spec.text) : join(where.dir, 'sample-validation.txt');
  const key = JSON.stringify([where.path, textPath, spec.n, spec.offset, spec.layers, spec.heads, spec.name]);
  const cached = built.get(key);
  if (cached) return cached;
  let text: Uint8Array;
  try {
    text = new Uint8Array(readFileSync(textPath));
  } catch (e) {
    throw new ConfigError(`model workload: cannot read the text ${textPath}: ${(e as Error).message}`);
  }
  const offset = spec.offset ?? 0;
  const tokens = text.subarray(offset, offset + (spec.n ?? 1024));
  if (tokens.length < 1) throw new ConfigError(`model workload: ${textPath} has no byte from offset ${offset}`);
  let model: LlamaModel;
  try {
    model = readModel(where.path);
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw new ConfigError(`model workload: cannot load ${where.path}: ${(e as Error).message}`);
  }
  const c = model.config;
  if (c.vocabSize < 256) throw new ConfigError(`model workload: ${where.path} is not a byte-level model (vocabulary of ${c.vocabSize})`);
  const layers = indices(spec.layers, c.nLayers, 'layer');
  const queryHeads = indices(spec.heads, c.nHeads, 'head');
  const n = tokens.length;
  const cache = new RecordingCache(model.cacheOptions({ policy: 'exact' }), n);
  const decoder = model.decoder(cache);
  for (let t = 0; t < n; t++) decoder.step(tokens[t]!);
  const d = c.headDim;
  const group = c.nHeads / c.nKvHeads;
  const heads: HeadStream[] = [];
  for (const l of layers) {
    for (const h of queryHeads) {
      const kv = Math.floor(h / group);
      const q = new Float32Array(n * d);
      const k = new Float32Array(n * d);
      const v = new Float32Array(n * d);
      for (let t = 0; t < n; t++) {
        q.set(cache.q[l]!.subarray((t * c.nHeads + h) * d, (t * c.nHeads + h + 1) * d), t * d);
        k.set(cache.k[l]!.subarray((t * c.nKvHeads + kv) * d, (t * c.nKvHeads + kv + 1) * d), t * d);
        v.set(cache.v[l]!.subarray((t * c.nKvHeads + kv) * d, (t * c.nKvHeads + kv + 1) * d), t * d);
      }
      heads.push({ label: `L${l}.H${h}`, length: n, keyDim: d, valueDim: d, queries: q, keys: k, values: v });
    }
  }
  const tau = 1 / Math.sqrt(d);
  const radius = Math.max(...heads.map(streamRadius));
  const workload: Workload = {
    name: spec.name ?? 'model',
    family: 'model',
    description: `attention of ${basename(where.path)} reading ${n} bytes of ${basename(textPath)} from byte ${offset} (${heads.length} heads)`,
    heads,
    length: n,
    keyDim: d,
    valueDim: d,
    radius,
    tau,
    rho: radius * radius * tau,
    hard: false,
  };
  built.set(key, workload);
  return workload;
}
