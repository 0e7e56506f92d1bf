import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AutoModelForCausalLM, env } from '@huggingface/transformers';
import type { CausalLM } from '../src/index.js';

/** The repository root (three levels up from packages/transformers/test). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** The shared model folder: $KV_MODELS or ../shared/models beside the clone (CI has it). */
export const modelsDir = process.env.KV_MODELS ?? join(repoRoot, '..', 'shared', 'models');

let loaded: Promise<CausalLM> | undefined;

/** The ONNX copy of the tiny byte-level model, loaded once per test file, offline. */
export function tinyModel(): Promise<CausalLM> {
  if (!existsSync(join(modelsDir, 'tinyllama-bytes-onnx', 'onnx', 'model.onnx'))) {
    throw new Error(`the tests need ${modelsDir}/tinyllama-bytes-onnx (set KV_MODELS to the folder holding it)`);
  }
  env.allowRemoteModels = false;
  env.localModelPath = modelsDir;
  // One ONNX Runtime thread: a 1.8 M-parameter model spends more on thread hand-offs than on math,
  // and CI's two cores are shared by every test file.
  loaded ??= AutoModelForCausalLM.from_pretrained('tinyllama-bytes-onnx', {
    dtype: 'fp32',
    session_options: { intraOpNumThreads: 1, interOpNumThreads: 1 },
  }) as unknown as Promise<CausalLM>;
  return loaded;
}

/** The first `n` bytes of the shared validation text. */
export function validationBytes(n: number): Uint8Array {
  return new Uint8Array(readFileSync(join(modelsDir, 'sample-validation.txt'))).subarray(0, n);
}
