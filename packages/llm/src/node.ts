import { existsSync, statSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { ModelFormatError } from './errors.js';
import { parseHuggingFace } from './huggingface.js';
import { type Llama2cOptions, parseLlama2c } from './llama2c.js';
import { LlamaModel } from './model.js';

/**
 * The file name of the shared tiny byte-level model.
 *
 * @example
 * ```ts
 * import { join } from 'node:path';
 * import { SHARED_MODEL_FILE } from '@kv/llm/node';
 * const MODELS_DIR = '../shared/models';
 * const path = join(MODELS_DIR, SHARED_MODEL_FILE); // '../shared/models/tinyllama-bytes.bin'
 * ```
 */
export const SHARED_MODEL_FILE = 'tinyllama-bytes.bin';

/**
 * Where the float16 copy of the shared tiny model lives in a clone, relative to the repository
 * root (a Hugging Face directory with `config.json`, `model.safetensors`, `sample-validation.txt`
 * and `reference-logits.json`; made by `packages/llm/scripts/make-f16-model.ts`).
 *
 * @example
 * ```ts
 * import { join } from 'node:path';
 * import { findRepoRoot, IN_REPO_MODEL_DIR, loadModel } from '@kv/llm/node';
 * const model = await loadModel(join(findRepoRoot(), IN_REPO_MODEL_DIR));
 * ```
 */
export const IN_REPO_MODEL_DIR = 'packages/llm/models/tinyllama-bytes-f16';

/**
 * The environment variable naming a model file or directory.
 *
 * @example
 * ```ts
 * import { findModel, MODEL_ENV } from '@kv/llm/node';
 * // Equivalent to running with KV_MODEL=/models/my-llama set in the shell.
 * findModel(process.cwd(), { [MODEL_ENV]: '/models/my-llama' });
 * ```
 */
export const MODEL_ENV = 'KV_MODEL';

/**
 * Reads a model from disk: a Hugging Face Llama directory (`config.json` plus `model.safetensors`,
 * or shards listed in `model.safetensors.index.json`), a llama2.c legacy checkpoint file, or a
 * directory holding one `.bin` checkpoint (the shared models directory).
 *
 * @param path - A file or directory.
 * @param options - ε and θ for llama2.c files, which do not store them.
 * @returns The model.
 * @throws {@link index!ModelFormatError} when the path holds no recognisable model; any error of the
 *   parsers or of the file system.
 * @throws {UnsupportedDtypeError} / `UnsupportedError` for a Hugging Face checkpoint this package
 *   cannot run (see `parseHuggingFace`).
 * @throws {InvalidParamsError} when the weights disagree with their config.
 * @example
 * ```ts
 * import { loadModel } from '@kv/llm/node';
 * const MODEL_PATH = '../shared/models/tinyllama-bytes.bin';
 * const model = await loadModel(MODEL_PATH);
 * ```
 * @remarks The only module of this package that touches the file system; the model itself takes
 * bytes, so it runs unchanged in browsers and workers.
 */
export async function loadModel(path: string, options: Llama2cOptions = {}): Promise<LlamaModel> {
  const st = statSync(path);
  if (st.isDirectory()) {
    if (existsSync(join(path, 'config.json'))) return loadHuggingFaceDir(path);
    const bins = (await readdir(path)).filter((f) => f.endsWith('.bin')).sort();
    const pick = bins.includes(SHARED_MODEL_FILE) ? SHARED_MODEL_FILE : bins.length === 1 ? bins[0] : undefined;
    if (pick === undefined) {
      throw new ModelFormatError(`${path} holds neither config.json (Hugging Face) nor exactly one llama2.c .bin checkpoint (found ${bins.length})`);
    }
    return loadModel(join(path, pick), options);
  }
  if (path.endsWith('.safetensors')) return loadHuggingFaceDir(dirname(path), basename(path));
  return new LlamaModel(parseLlama2c(new Uint8Array(await readFile(path)), options));
}

async function loadHuggingFaceDir(dir: string, single?: string): Promise<LlamaModel> {
  const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
  let files: string[];
  if (single !== undefined) files = [single];
  else if (existsSync(join(dir, 'model.safetensors'))) files = ['model.safetensors'];
  else if (existsSync(join(dir, 'model.safetensors.index.json'))) {
    const index = JSON.parse(await readFile(join(dir, 'model.safetensors.index.json'), 'utf8')) as { weight_map?: Record<string, string> };
    files = [...new Set(Object.values(index.weight_map ?? {}))].sort();
  } else {
    files = (await readdir(dir)).filter((f) => f.endsWith('.safetensors')).sort();
  }
  if (files.length === 0) throw new ModelFormatError(`${dir} has config.json but no .safetensors file`);
  const safetensors = await Promise.all(files.map(async (f) => new Uint8Array(await readFile(join(dir, f)))));
  return new LlamaModel(parseHuggingFace({ config, safetensors }));
}

/**
 * Where a model is looked for, in order: the path in `KV_MODEL`, the float16 copy in the
 * repository ({@link IN_REPO_MODEL_DIR}), then `../shared/models` relative to the repository root
 * (the float32 original).
 *
 * @param repoRoot - The repository root.
 * @param env - The environment (default `process.env`).
 * @returns The candidate paths, most preferred first.
 * @example
 * ```ts
 * import { modelSearchPaths } from '@kv/llm/node';
 * modelSearchPaths('/work/main'); // ['/work/main/packages/llm/models/tinyllama-bytes-f16', '/work/shared/models'] when KV_MODEL is unset
 * ```
 */
export function modelSearchPaths(repoRoot: string, env: Record<string, string | undefined> = process.env): string[] {
  const out: string[] = [];
  const fromEnv = env[MODEL_ENV];
  if (fromEnv) out.push(resolve(fromEnv));
  out.push(resolve(repoRoot, IN_REPO_MODEL_DIR));
  out.push(resolve(repoRoot, '..', 'shared', 'models'));
  return out;
}

/**
 * A model found on disk, with the directory holding the shared model's companion files.
 *
 * @example
 * ```ts
 * import { existsSync } from 'node:fs';
 * import { join } from 'node:path';
 * import { findModel, findRepoRoot, loadModel, type FoundModel } from '@kv/llm/node';
 * const found: FoundModel | undefined = findModel(findRepoRoot());
 * if (found) {
 *   const model = await loadModel(found.path);
 *   const hasText = existsSync(join(found.dir, 'sample-validation.txt'));
 * }
 * ```
 */
export interface FoundModel {
  /** The model file or Hugging Face directory. */
  readonly path: string;
  /** The directory in which `reference-logits.json` and `sample-validation.txt` may be found. */
  readonly dir: string;
}

/**
 * Finds a model in the places {@link modelSearchPaths} lists.
 *
 * @param repoRoot - The repository root.
 * @param env - The environment (default `process.env`).
 * @returns The first existing model, or undefined.
 * @example
 * ```ts
 * import { findModel, whereToPutAModel } from '@kv/llm/node';
 * const found = findModel(process.cwd());
 * if (!found) console.error(whereToPutAModel(process.cwd()));
 * ```
 */
export function findModel(repoRoot: string, env: Record<string, string | undefined> = process.env): FoundModel | undefined {
  for (const p of modelSearchPaths(repoRoot, env)) {
    if (!existsSync(p)) continue;
    if (statSync(p).isDirectory()) {
      if (existsSync(join(p, 'config.json'))) return { path: p, dir: p };
      if (existsSync(join(p, SHARED_MODEL_FILE))) return { path: join(p, SHARED_MODEL_FILE), dir: p };
      continue;
    }
    return { path: p, dir: dirname(p) };
  }
  return undefined;
}

/**
 * The message shown when no model is found: where to put one.
 *
 * @param repoRoot - The repository root.
 * @returns A human-readable explanation.
 * @example
 * ```ts
 * import { whereToPutAModel } from '@kv/llm/node';
 * console.error(whereToPutAModel('/work/main'));
 * ```
 */
export function whereToPutAModel(repoRoot: string): string {
  return [
    'No model found.',
    `The repository's float16 copy of the tiny model belongs in ${resolve(repoRoot, IN_REPO_MODEL_DIR)}: run the command from inside a clone,`,
    `or put ${SHARED_MODEL_FILE} (a llama2.c checkpoint) in ${resolve(repoRoot, '..', 'shared', 'models')} (../shared/models relative to the repository root),`,
    `or set ${MODEL_ENV} to a llama2.c .bin file or a Hugging Face Llama directory (config.json + model.safetensors),`,
    'or pass --model PATH.',
  ].join('\n');
}

/**
 * The repository root above a directory: the nearest ancestor holding `pnpm-workspace.yaml`
 * (else one holding `.git`), so `../shared/models` can be found from anywhere inside a checkout.
 *
 * @param start - Where to start looking (default the working directory).
 * @returns The root, or `start` itself when no ancestor qualifies.
 * @example
 * ```ts
 * import { findModel, findRepoRoot } from '@kv/llm/node';
 * const found = findModel(findRepoRoot());
 * ```
 */
export function findRepoRoot(start: string = process.cwd()): string {
  for (const marker of ['pnpm-workspace.yaml', '.git']) {
    let dir = resolve(start);
    for (;;) {
      if (existsSync(join(dir, marker))) return dir;
      const up = dirname(dir);
      if (up === dir) break;
      dir = up;
    }
  }
  return resolve(start);
}
