/**
 * Stable error codes of every {@link KvError}. Codes never change between versions, so callers
 * can branch on them across package versions and duplicated installs.
 *
 * @example
 * ```ts
 * import { isKvError, KvErrorCode, validateBudget } from '@kv/core';
 * try {
 *   validateBudget(0);
 * } catch (e) {
 *   if (isKvError(e) && e.code === KvErrorCode.InvalidBudget) console.log(e.message);
 * }
 * ```
 */
export const KvErrorCode = {
  /** A vector has the wrong length. */
  DimensionMismatch: 'KV_DIMENSION_MISMATCH',
  /** A vector holds NaN or ±Infinity. */
  NonFiniteInput: 'KV_NON_FINITE_INPUT',
  /** A budget is malformed or missing. */
  InvalidBudget: 'KV_INVALID_BUDGET',
  /** A spec field or policy parameter is malformed. */
  InvalidParams: 'KV_INVALID_PARAMS',
  /** A query reached a cache with no token. */
  EmptyCache: 'KV_EMPTY_CACHE',
  /** A spec names an unregistered policy. */
  UnknownPolicy: 'KV_UNKNOWN_POLICY',
  /** The policy does not support the operation. */
  Unsupported: 'KV_UNSUPPORTED',
  /** An input violates a theorem's assumptions and the policy refuses it. */
  AssumptionViolated: 'KV_ASSUMPTION_VIOLATED',
  /** An argument is not of the type the API takes (a plain array where a Float32Array goes). */
  InvalidInput: 'KV_INVALID_INPUT',
  /** A snapshot is truncated, corrupt, of a newer format, or does not fit the cache. */
  InvalidSnapshot: 'KV_INVALID_SNAPSHOT',
} as const;

/**
 * One of the stable error codes in {@link KvErrorCode}.
 *
 * @example
 * ```ts
 * import { KvErrorCode } from '@kv/core';
 * const code: KvErrorCode = KvErrorCode.EmptyCache; // 'KV_EMPTY_CACHE'
 * ```
 */
export type KvErrorCode = (typeof KvErrorCode)[keyof typeof KvErrorCode];

// A registry-wide symbol, so two copies of @kv/core in one process recognise each other's errors.
const KV_ERROR_MARKER = Symbol.for('@kv/core/KvError');

/**
 * Base class of every error thrown by kv packages.
 *
 * @example
 * ```ts
 * import { KvError, KvErrorCode } from '@kv/core';
 * const e = new KvError(KvErrorCode.InvalidParams, 'window must be positive');
 * e.code; // 'KV_INVALID_PARAMS'
 * ```
 */
export class KvError extends Error {
  /** The stable code of this error. */
  readonly code: KvErrorCode;
  /** @internal */
  readonly [KV_ERROR_MARKER] = true;

  /**
   * @param code - The stable code.
   * @param message - What was expected and what came.
   */
  constructor(code: KvErrorCode, message: string) {
    super(message);
    this.code = code;
    this.name = new.target.name;
  }
}

/**
 * Tells whether `e` is a {@link KvError}, optionally with a given code. Works across duplicated
 * installs of `@kv/core`, where `instanceof` does not.
 *
 * @param e - Any thrown value.
 * @param code - When given, the code `e` must carry.
 * @returns `true` when `e` is a kv error (with that code).
 * @example
 * ```ts
 * import { ExactCache, isKvError, KvErrorCode } from '@kv/core';
 * const cache = new ExactCache({ policy: 'exact', keyDim: 4, valueDim: 4 });
 * try {
 *   cache.attend(new Float32Array(4), new Float32Array(4));
 * } catch (e) {
 *   if (isKvError(e, KvErrorCode.EmptyCache)) console.log('nothing cached yet');
 * }
 * ```
 */
export function isKvError(e: unknown, code?: KvErrorCode): e is KvError {
  if (typeof e !== 'object' || e === null) return false;
  if ((e as Record<symbol, unknown>)[KV_ERROR_MARKER] !== true) return false;
  return code === undefined || (e as KvError).code === code;
}

/**
 * A vector has the wrong length for the cache it was given to.
 *
 * @example
 * ```ts
 * import { DimensionMismatchError } from '@kv/core';
 * throw new DimensionMismatchError('key', 63, 64); // "key has length 63, expected 64"
 * ```
 */
export class DimensionMismatchError extends KvError {
  /**
   * @param what - Which argument (for example `"key"`).
   * @param got - The length that came.
   * @param expected - The length the cache needs.
   */
  constructor(what: string, got: number, expected: number) {
    super(KvErrorCode.DimensionMismatch, `${what} has length ${got}, expected ${expected}`);
  }
}

/**
 * A vector holds NaN or ±Infinity.
 *
 * @example
 * ```ts
 * import { NonFiniteInputError } from '@kv/core';
 * throw new NonFiniteInputError('query', 3, NaN); // "query[3] is NaN, expected a finite number"
 * ```
 */
export class NonFiniteInputError extends KvError {
  /**
   * @param what - Which argument.
   * @param index - The first offending index.
   * @param value - The offending value.
   */
  constructor(what: string, index: number, value: number) {
    super(KvErrorCode.NonFiniteInput, `${what}[${index}] is ${value}, expected a finite number`);
  }
}

/**
 * A budget is not a positive token count or a ratio in (0, 1].
 *
 * @example
 * ```ts
 * import { InvalidBudgetError } from '@kv/core';
 * throw new InvalidBudgetError('budget ratio is 1.5, expected a number in (0, 1]');
 * ```
 */
export class InvalidBudgetError extends KvError {
  /** @param message - What was expected and what came. */
  constructor(message: string) {
    super(KvErrorCode.InvalidBudget, message);
  }
}

/**
 * A policy parameter is missing, of the wrong type or out of range.
 *
 * @example
 * ```ts
 * import { InvalidParamsError } from '@kv/core';
 * throw new InvalidParamsError('window is -1, expected an integer >= 1');
 * ```
 */
export class InvalidParamsError extends KvError {
  /** @param message - What was expected and what came. */
  constructor(message: string) {
    super(KvErrorCode.InvalidParams, message);
  }
}

/**
 * A query was asked of a cache that holds no token yet.
 *
 * @example
 * ```ts
 * import { EmptyCacheError } from '@kv/core';
 * throw new EmptyCacheError('exact');
 * ```
 */
export class EmptyCacheError extends KvError {
  /** @param policy - The policy name of the empty cache. */
  constructor(policy: string) {
    super(KvErrorCode.EmptyCache, `cannot answer a query: the ${policy} cache holds no token yet`);
  }
}

/**
 * A policy spec names a policy the registry does not know.
 *
 * @example
 * ```ts
 * import { UnknownPolicyError } from '@kv/core';
 * throw new UnknownPolicyError('h2o', ['exact']);
 * ```
 */
export class UnknownPolicyError extends KvError {
  /**
   * @param name - The requested policy name.
   * @param known - The names the registry knows.
   */
  constructor(name: string, known: readonly string[]) {
    super(
      KvErrorCode.UnknownPolicy,
      `unknown policy "${name}"; registered: ${known.length ? known.join(', ') : '(none)'}`,
    );
  }
}

/**
 * An operation the policy does not support (for example a second prefill).
 *
 * @example
 * ```ts
 * import { UnsupportedError } from '@kv/core';
 * throw new UnsupportedError('snapkv accepts one prefill per cache');
 * ```
 */
export class UnsupportedError extends KvError {
  /** @param message - What is unsupported and why. */
  constructor(message: string) {
    super(KvErrorCode.Unsupported, message);
  }
}

/**
 * An input lies outside the assumptions of a policy's theorem and the policy was configured to
 * refuse such inputs rather than degrade silently (for example a key norm above the stated radius).
 *
 * @example
 * ```ts
 * import { AssumptionViolatedError } from '@kv/core';
 * throw new AssumptionViolatedError('key norm 12.5 exceeds the radius r = 4');
 * ```
 */
export class AssumptionViolatedError extends KvError {
  /** @param message - Which assumption failed, with the values. */
  constructor(message: string) {
    super(KvErrorCode.AssumptionViolated, message);
  }
}

/**
 * An argument is not of the type the API takes. Caches take `Float32Array` keys, values and
 * queries (typed arrays are what a model produces; a plain `number[]` would be copied silently on
 * some paths and not others, so it is refused everywhere).
 *
 * @example
 * ```ts
 * import { InvalidInputError } from '@kv/core';
 * throw new InvalidInputError('key must be a Float32Array, got Array');
 * ```
 */
export class InvalidInputError extends KvError {
  /** @param message - What was expected and what came. */
  constructor(message: string) {
    super(KvErrorCode.InvalidInput, message);
  }
}

/**
 * Why a snapshot was refused: `truncated` (shorter than it says), `magic` (not a kv snapshot),
 * `version` (written by a newer format), `checksum` (bytes changed), `format` (a malformed
 * header or section), `mismatch` (valid, but not for this cache or model).
 *
 * @example
 * ```ts
 * import type { SnapshotFault } from '@kv/core';
 * const fault: SnapshotFault = 'checksum';
 * ```
 */
export type SnapshotFault = 'truncated' | 'magic' | 'version' | 'checksum' | 'format' | 'mismatch';

/**
 * A snapshot cannot be restored. Nothing is built from a refused snapshot.
 *
 * @example
 * ```ts
 * import { SnapshotError } from '@kv/core';
 * const e = new SnapshotError('checksum', 'CRC32 is 0x1234abcd, the payload gives 0x00000000');
 * e.fault; // 'checksum'
 * ```
 */
export class SnapshotError extends KvError {
  /** What is wrong with it. */
  readonly fault: SnapshotFault;

  /**
   * @param fault - Which check failed.
   * @param message - What was expected and what came.
   */
  constructor(fault: SnapshotFault, message: string) {
    super(KvErrorCode.InvalidSnapshot, `snapshot refused (${fault}): ${message}`);
    this.fault = fault;
  }
}
