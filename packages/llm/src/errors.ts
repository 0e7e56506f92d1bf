import { InvalidParamsError, UnsupportedError } from '@kv/core';

/**
 * A model file (safetensors, llama2.c checkpoint, `config.json`) is truncated, malformed or
 * inconsistent with its own header.
 *
 * @remarks Code `KV_INVALID_PARAMS`, so callers can branch with `isKvError(e, KvErrorCode.InvalidParams)`.
 * @example
 * ```ts
 * import { ModelFormatError } from '@kv/llm';
 * throw new ModelFormatError('safetensors header length 9000 exceeds the file size 120');
 * ```
 */
export class ModelFormatError extends InvalidParamsError {
  /** @param message - What was expected and what came. */
  constructor(message: string) {
    super(message);
    this.name = 'ModelFormatError';
  }
}

/**
 * A safetensors tensor has a dtype this package cannot convert to float32 (integers, bool,
 * 8-bit floats).
 *
 * @remarks Code `KV_UNSUPPORTED`.
 * @example
 * ```ts
 * import { UnsupportedDtypeError } from '@kv/llm';
 * throw new UnsupportedDtypeError('model.embed_tokens.weight', 'I8');
 * ```
 */
export class UnsupportedDtypeError extends UnsupportedError {
  /** The tensor name. */
  readonly tensor: string;
  /** The dtype found in the header. */
  readonly dtype: string;

  /**
   * @param tensor - The tensor name.
   * @param dtype - The dtype found in the header.
   */
  constructor(tensor: string, dtype: string) {
    super(`tensor "${tensor}" has dtype ${dtype}; supported: F32, F16, BF16, F64`);
    this.name = 'UnsupportedDtypeError';
    this.tensor = tensor;
    this.dtype = dtype;
  }
}
