import type { CacheState, StateArray, StateScalar } from './contract.js';
import { SnapshotError } from './errors.js';

/**
 * The bytes a state holds: the byte lengths of its arrays and its parts' arrays. A cache's
 * `bytes` equals this for its own `state()` (the conformance suite checks it).
 *
 * @param state - A cache state.
 * @returns Total array bytes.
 * @example
 * ```ts
 * import { stateBytes } from '@kv/core';
 * stateBytes({ scalars: {}, arrays: { keys: new Float32Array(8) } }); // 32
 * ```
 */
export function stateBytes(state: CacheState): number {
  let total = 0;
  for (const a of Object.values(state.arrays)) total += a.byteLength;
  if (state.parts) for (const p of Object.values(state.parts)) total += stateBytes(p);
  return total;
}

/**
 * A typed-array constructor as {@link StateReader.array} takes it (`Float32Array`, `Int32Array`, …):
 * the reader compares its `name` with the stored array's.
 *
 * @example
 * ```ts
 * import type { ArrayCtor } from '@kv/core';
 * const type: ArrayCtor<Float32Array> = Float32Array;
 * ```
 */
export type ArrayCtor<T extends StateArray> = {
  new (length: number): T;
  /** The constructor's name, compared with the stored array's. */
  readonly name: string;
  /** Bytes per element. */
  readonly BYTES_PER_ELEMENT: number;
};

/**
 * Reads a {@link CacheState} back with checks, so `loadState` implementations refuse a state that
 * does not fit (a missing array, a wrong type or length, a counter out of range) with a
 * {@link SnapshotError} naming what is wrong, instead of building a broken cache.
 *
 * @example
 * ```ts
 * import { StateReader } from '@kv/core';
 * const r = new StateReader({ scalars: { count: 2 }, arrays: { keys: new Float32Array(8) } }, 'my-policy');
 * const count = r.integer('count', 0, 16);
 * const keys = r.array('keys', Float32Array, count * 4);
 * ```
 */
export class StateReader {
  /** The state being read. */
  readonly state: CacheState;
  /** Where in the cache tree it sits, for messages (`tiered/middle`). */
  readonly path: string;

  /**
   * @param state - The state.
   * @param path - Its name, for messages.
   * @throws {@link SnapshotError} (`format`) when `state` is not a cache state.
   */
  constructor(state: CacheState, path: string) {
    if (typeof state !== 'object' || state === null || typeof state.scalars !== 'object' || typeof state.arrays !== 'object') {
      throw new SnapshotError('format', `${path}: not a cache state`);
    }
    this.state = state;
    this.path = path;
  }

  private fail(message: string): never {
    throw new SnapshotError('mismatch', `${this.path}: ${message}`);
  }

  /**
   * A scalar as stored.
   * @param name - Scalar name.
   * @returns Its value.
   * @throws {@link SnapshotError} when missing.
   */
  scalar(name: string): StateScalar {
    if (!Object.hasOwn(this.state.scalars, name)) this.fail(`scalar "${name}" is missing`);
    return this.state.scalars[name]!;
  }

  /**
   * A number scalar (NaN and ±Infinity allowed).
   * @param name - Scalar name.
   * @returns The number.
   * @throws {@link SnapshotError} when missing or not a number.
   */
  number(name: string): number {
    const v = this.scalar(name);
    if (typeof v !== 'number') this.fail(`scalar "${name}" is ${JSON.stringify(v)}, expected a number`);
    return v;
  }

  /**
   * An integer scalar within [min, max].
   * @param name - Scalar name.
   * @param min - Smallest allowed value.
   * @param max - Largest allowed value.
   * @returns The integer.
   * @throws {@link SnapshotError} when missing, not an integer or out of range.
   */
  integer(name: string, min: number, max: number): number {
    const v = this.number(name);
    if (!Number.isSafeInteger(v) || v < min || v > max) this.fail(`scalar "${name}" is ${v}, expected an integer in [${min}, ${max}]`);
    return v;
  }

  /**
   * A boolean scalar.
   * @param name - Scalar name.
   * @returns The boolean.
   * @throws {@link SnapshotError} when missing or not a boolean.
   */
  boolean(name: string): boolean {
    const v = this.scalar(name);
    if (typeof v !== 'boolean') this.fail(`scalar "${name}" is ${JSON.stringify(v)}, expected a boolean`);
    return v;
  }

  /**
   * A string scalar.
   * @param name - Scalar name.
   * @returns The string.
   * @throws {@link SnapshotError} when missing or not a string.
   */
  string(name: string): string {
    const v = this.scalar(name);
    if (typeof v !== 'string') this.fail(`scalar "${name}" is ${JSON.stringify(v)}, expected a string`);
    return v;
  }

  /**
   * A list-of-numbers scalar (RNG states).
   * @param name - Scalar name.
   * @param length - Required length, when fixed.
   * @returns The numbers.
   * @throws {@link SnapshotError} when missing, not a number list, or of another length.
   */
  numbers(name: string, length?: number): readonly number[] {
    const v = this.scalar(name);
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'number')) this.fail(`scalar "${name}" is not a list of numbers`);
    if (length !== undefined && v.length !== length) this.fail(`scalar "${name}" has ${v.length} numbers, expected ${length}`);
    return v as readonly number[];
  }

  /**
   * A typed array of the given type (and length, when given).
   * @param name - Array name.
   * @param type - Its constructor (`Float32Array`, …).
   * @param length - Required element count, when known.
   * @returns The array (possibly a view of the snapshot bytes: copy what you keep).
   * @throws {@link SnapshotError} when missing, of another type or length.
   */
  array<T extends StateArray>(name: string, type: ArrayCtor<T>, length?: number): T {
    if (!Object.hasOwn(this.state.arrays, name)) this.fail(`array "${name}" is missing`);
    const a = this.state.arrays[name]!;
    if (a.constructor.name !== type.name) this.fail(`array "${name}" is a ${a.constructor.name}, expected a ${type.name}`);
    if (length !== undefined && a.length !== length) this.fail(`array "${name}" has ${a.length} elements, expected ${length}`);
    return a as T;
  }

  /**
   * The state of a named part.
   * @param name - Part name.
   * @returns A reader of it.
   * @throws {@link SnapshotError} when missing.
   */
  part(name: string): StateReader {
    const p = this.state.parts?.[name];
    if (p === undefined) this.fail(`part "${name}" is missing`);
    return new StateReader(p, `${this.path}/${name}`);
  }

  /**
   * Whether a named part is present.
   * @param name - Part name.
   * @returns True when present.
   */
  hasPart(name: string): boolean {
    return this.state.parts?.[name] !== undefined;
  }

  /**
   * Throws a {@link SnapshotError} with a message about this state (for checks the reader has no
   * method for).
   * @param message - What is wrong.
   * @returns Never.
   * @throws {@link SnapshotError} always.
   */
  refuse(message: string): never {
    this.fail(message);
  }
}
