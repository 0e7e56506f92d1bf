/**
 * One attention head's stream: at step t the token (k_t, v_t) is appended, then q_t is asked.
 * Rows are stored row-major in flat typed arrays (no arrays of arrays).
 *
 * @example
 * ```ts
 * import type { HeadStream } from '@kv/eval';
 * const head: HeadStream = { label: 'h0', length: 1, keyDim: 2, valueDim: 1,
 *   queries: new Float32Array(2), keys: new Float32Array(2), values: new Float32Array(1) };
 * ```
 */
export interface HeadStream {
  /** Which head this is (for traces `L3.H1`), used in error messages. */
  readonly label: string;
  /** Number of steps n. */
  readonly length: number;
  /** Key and query dimension d. */
  readonly keyDim: number;
  /** Value dimension s. */
  readonly valueDim: number;
  /** Row-major queries, n·d. */
  readonly queries: Float32Array;
  /** Row-major keys, n·d. */
  readonly keys: Float32Array;
  /** Row-major values, n·s. */
  readonly values: Float32Array;
  /**
   * First step whose query is asked (default 0). The hard instance stores its tokens first and
   * only then asks, as in the INDEX reduction.
   */
  readonly firstQuery?: number;
}

/**
 * A workload: one or more head streams of equal dimensions, with the norm facts the bounds need.
 *
 * @example
 * ```ts
 * import { buildWorkload } from '@kv/eval';
 * const w = buildWorkload({ family: 'gaussian', n: 64, d: 16, s: 16 }, 0);
 * w.radius; // max ||q||, ||k|| over the stream
 * ```
 */
export interface Workload {
  /** Display name (from the spec, or the family). */
  readonly name: string;
  /** Where it came from (`gaussian`, `index`, `npy`, `model`, …). */
  readonly family: string;
  /** One-line description. */
  readonly description: string;
  /** The head streams (one for synthetic families). */
  readonly heads: readonly HeadStream[];
  /** Stream length n (the longest head). */
  readonly length: number;
  /** Key dimension d. */
  readonly keyDim: number;
  /** Value dimension s. */
  readonly valueDim: number;
  /** Measured r = max over the stream of ||q|| and ||k||. */
  readonly radius: number;
  /** Logit scale τ used by the caches (default 1/√d). */
  readonly tau: number;
  /** ρ = r²·τ, the largest possible logit. */
  readonly rho: number;
  /** Whether every compressed cache must fail on it (a lower-bound construction). */
  readonly hard: boolean;
}

/**
 * Names of the synthetic families (described in {@link syntheticFamilies}).
 *
 * @example
 * ```ts
 * import type { SyntheticFamily } from '@kv/eval';
 * const family: SyntheticFamily = 'heavy-hitters';
 * ```
 */
export type SyntheticFamily = 'gaussian' | 'clustered' | 'heavy-hitters' | 'rope' | 'outlier-channels' | 'index';

/**
 * A synthetic workload description: family, sizes, and the radius r (or ρ) the stream is scaled to.
 *
 * @example
 * ```ts
 * import type { SyntheticWorkloadSpec } from '@kv/eval';
 * const spec: SyntheticWorkloadSpec = { family: 'clustered', n: 512, d: 64, s: 64, rho: 4 };
 * ```
 */
export interface SyntheticWorkloadSpec {
  /** The family. */
  readonly family: SyntheticFamily;
  /** Display name (default: the family). */
  readonly name?: string;
  /** Stream length n (default 512). */
  readonly n?: number;
  /** Key dimension d (default 64). */
  readonly d?: number;
  /** Value dimension s (default d). */
  readonly s?: number;
  /** Target ρ = r²τ; the stream is rescaled so that max ||q||, ||k|| = r (default: per family). */
  readonly rho?: number;
  /** Target radius r instead of ρ. */
  readonly r?: number;
  /** Family-specific knobs (clusters, sinks, heavy, outliers, outlierScale, ropeBase). */
  readonly params?: Readonly<Record<string, number>>;
}

/**
 * A recorded trace on disk: a folder of `.npy` files with a `manifest.json`, or one `.safetensors` file.
 *
 * @example
 * ```ts
 * import type { TraceWorkloadSpec } from '@kv/eval';
 * const spec: TraceWorkloadSpec = { family: 'npy', path: './traces/llama', maxHeads: 4 };
 * ```
 */
export interface TraceWorkloadSpec {
  /** `npy` (folder with manifest.json) or `safetensors` (one file). */
  readonly family: 'npy' | 'safetensors';
  /** Display name (default: the folder name, or the file name without `.safetensors`). */
  readonly name?: string;
  /**
   * Folder or file path. Relative paths are resolved against the current directory, except in a
   * config file read by {@link readConfigFile}, where they are relative to the file's folder.
   */
  readonly path: string;
  /** Keep only the first n steps of each head. */
  readonly n?: number;
  /** Keep only the first heads (in manifest order). */
  readonly maxHeads?: number;
  /** Logit scale τ (default: the manifest's, else 1/√d). */
  readonly tau?: number;
}

/**
 * Real attention generated on the fly: the queries, keys (post-RoPE) and values of a Llama model
 * (`@kv/llm`) reading a text, one stream per (layer, query head). The defaults are the tiny
 * byte-level model kept in the repository and the sample text beside it.
 *
 * @example
 * ```ts
 * import type { ModelWorkloadSpec } from '@kv/eval';
 * const spec: ModelWorkloadSpec = { family: 'model', n: 512, layers: [0, 3] };
 * ```
 */
export interface ModelWorkloadSpec {
  /** Always `model`. */
  readonly family: 'model';
  /** Display name (default `model`). */
  readonly name?: string;
  /** A llama2.c `.bin` file or a Hugging Face Llama directory (default: the repository's tiny model). */
  readonly model?: string;
  /** A UTF-8 text read as bytes (default: `sample-validation.txt` beside the model). */
  readonly text?: string;
  /** Tokens (bytes) fed (default 1024, at most what the text holds from `offset`). */
  readonly n?: number;
  /** First byte of the text (default 0). */
  readonly offset?: number;
  /** Layers kept (default: every layer). */
  readonly layers?: readonly number[];
  /** Query heads kept in each layer (default: every head). */
  readonly heads?: readonly number[];
}

/**
 * Any workload description accepted by {@link buildWorkload}: a synthetic family, a trace on
 * disk, or a model run.
 *
 * @example
 * ```ts
 * import type { WorkloadSpec } from '@kv/eval';
 * const specs: WorkloadSpec[] = [{ family: 'index', n: 512, d: 64 }, { family: 'npy', path: './trace', maxHeads: 4 }, { family: 'model' }];
 * ```
 */
export type WorkloadSpec = SyntheticWorkloadSpec | TraceWorkloadSpec | ModelWorkloadSpec;
