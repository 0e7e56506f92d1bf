import { KvError, KvErrorCode } from '@kv/core';

/**
 * A trace file or manifest is malformed or of an unsupported kind (big-endian, Fortran order,
 * integer dtype, mismatched shapes). Carries the `KV_INVALID_PARAMS` code, since the input is bad.
 *
 * @example
 * ```ts
 * import { TraceFormatError } from '@kv/eval';
 * throw new TraceFormatError('k.npy: fortran_order is True, expected C order');
 * ```
 */
export class TraceFormatError extends KvError {
  /** @param message - Which file, what was expected and what came. */
  constructor(message: string) {
    super(KvErrorCode.InvalidParams, message);
  }
}

/**
 * An evaluation config is malformed (unknown key, bad budget, no policy).
 *
 * @example
 * ```ts
 * import { ConfigError } from '@kv/eval';
 * throw new ConfigError('budgets[1] is "x", expected a token count, a fraction like "1/4" or {ratio}');
 * ```
 */
export class ConfigError extends KvError {
  /** @param message - What was expected and what came. */
  constructor(message: string) {
    super(KvErrorCode.InvalidParams, message);
  }
}
