import type { CacheState, FloatArray, Rng, StateArray, StateReader } from '@kv/core';
import { BucketIndex } from './bucket-index.js';
import { createFamily, type FamilyOptions, type LshFamily } from './family.js';

/**
 * L independent hash tables over one set of items: table t hashes with its own function of the
 * family and groups items by cell in a {@link BucketIndex}. Items are small integers (slots);
 * their vectors live elsewhere (a `SlotStore`), so the tables only hold ids. The drawn functions
 * are memory held too: they are part of {@link LshTables.state} and {@link LshTables.heldBytes}.
 *
 * @example
 * ```ts
 * import { Rng } from '@kv/core';
 * import { LshTables } from '@kv/lsh';
 * const tables = new LshTables(4, 2, { kind: 'simhash', hashes: 3 }, new Rng(0), 16);
 * tables.insert(0, new Float32Array([1, 0, 0, 0]), 0);
 * tables.hashQuery(new Float32Array([1, 0.1, 0, 0]));
 * tables.head(0); // 0 when the query shares table 0's cell
 * ```
 */
export class LshTables {
  /** Number of tables L. */
  readonly tables: number;
  /** The drawn function of each table. */
  readonly families: readonly LshFamily[];
  /** The bucket index of each table. */
  readonly indexes: readonly BucketIndex[];
  /** Cell of the last hashed query in each table. */
  readonly queryCells: Int32Array;

  /**
   * @param dim - Vector dimension.
   * @param tables - Number of tables L (≥ 1).
   * @param family - Family kind and shape (one independent draw per table).
   * @param rng - Source of the draws.
   * @param maxItems - Most items (the indexes grow by doubling up to it).
   * @param growable - Whether items are unbounded (same as maxItems = Infinity).
   * @param direct - Direct-addressed bucket heads (see {@link BucketIndex}; default when the
   *   family has at most 2^16 cells).
   * @throws `InvalidParamsError` for bad family shapes.
   */
  constructor(
    dim: number,
    tables: number,
    family: FamilyOptions,
    rng: Rng,
    maxItems: number,
    growable = false,
    direct?: boolean,
  ) {
    this.tables = tables;
    const families: LshFamily[] = [];
    const indexes: BucketIndex[] = [];
    for (let t = 0; t < tables; t++) {
      const f = createFamily(dim, family, rng);
      families.push(f);
      indexes.push(new BucketIndex(maxItems, growable, growable ? Infinity : f.buckets, direct ?? f.buckets <= 1 << 16));
    }
    this.families = families;
    this.indexes = indexes;
    this.queryCells = new Int32Array(tables);
  }

  /**
   * Hashes a vector into every table under item id `item`.
   * @param item - Item id (not currently inserted).
   * @param vector - Storage holding the vector.
   * @param offset - Index of its first element.
   */
  insert(item: number, vector: FloatArray, offset: number): void {
    for (let t = 0; t < this.tables; t++) this.indexes[t]!.insert(item, this.families[t]!.hash(vector, offset));
  }

  /**
   * Removes an item from every table.
   * @param item - Item id.
   */
  remove(item: number): void {
    for (let t = 0; t < this.tables; t++) this.indexes[t]!.remove(item);
  }

  /**
   * Renames an item in every table (see {@link BucketIndex.move}).
   * @param from - Current id.
   * @param to - New id (not inserted).
   */
  move(from: number, to: number): void {
    for (let t = 0; t < this.tables; t++) this.indexes[t]!.move(from, to);
  }

  /** Empties every table (keeps the functions and allocations). */
  clear(): void {
    for (let t = 0; t < this.tables; t++) this.indexes[t]!.clear();
  }

  /**
   * Hashes a query into {@link LshTables.queryCells}.
   * @param query - The query vector.
   */
  hashQuery(query: FloatArray): void {
    for (let t = 0; t < this.tables; t++) this.queryCells[t] = this.families[t]!.hash(query, 0);
  }

  /**
   * First item of the query's cell in table t (follow `indexes[t].next`).
   * @param t - Table.
   * @returns An item, or −1 for an empty cell.
   */
  head(t: number): number {
    return this.indexes[t]!.head(this.queryCells[t]!);
  }

  /**
   * Items in the query's cell in table t.
   * @param t - Table.
   * @returns The cell size.
   */
  cellSize(t: number): number {
    return this.indexes[t]!.bucketSize(this.queryCells[t]!);
  }

  /** Bytes of the drawn functions. */
  get functionBytes(): number {
    let total = 0;
    for (const f of this.families) for (const b of f.buffers()) total += b.byteLength;
    return total;
  }

  /** Bytes held whatever the items: functions and the indexes' head tables. */
  get fixedBytes(): number {
    let total = this.functionBytes;
    for (const ix of this.indexes) total += ix.fixedBytes;
    return total;
  }

  /** Bytes per indexed item over all tables (an upper bound for hashed indexes). */
  get perItemBytes(): number {
    let total = 0;
    for (const ix of this.indexes) total += ix.perItemBytes;
    return total;
  }

  /**
   * Bytes held for items 0…items−1: functions and indexes.
   * @param items - Live item count.
   * @returns The bytes.
   */
  heldBytes(items: number): number {
    let total = this.functionBytes;
    for (const ix of this.indexes) total += ix.heldBytes(items);
    return total;
  }

  /**
   * The drawn functions and every table's index over items 0…items−1.
   * @param items - Live item count.
   * @returns The state.
   */
  state(items: number): CacheState {
    const arrays: Record<string, StateArray> = {};
    const parts: Record<string, CacheState> = {};
    for (let t = 0; t < this.tables; t++) {
      this.families[t]!.buffers().forEach((b, i) => (arrays[`fn${t}.${i}`] = b as StateArray));
      parts[`table${t}`] = this.indexes[t]!.state(items);
    }
    return { scalars: {}, arrays, parts };
  }

  /**
   * Loads a state of tables of the same family and shape.
   * @param r - A reader of the state.
   * @param items - Item count.
   * @throws `SnapshotError` when it does not fit.
   */
  loadState(r: StateReader, items: number): void {
    const fns: [StateArray, StateArray][] = [];
    for (let t = 0; t < this.tables; t++) {
      this.families[t]!.buffers().forEach((b, i) => {
        const own = b as StateArray;
        const got = r.array(`fn${t}.${i}`, own.constructor as unknown as { new (n: number): StateArray; readonly name: string; readonly BYTES_PER_ELEMENT: number }, own.length);
        fns.push([own, got]);
      });
    }
    for (let t = 0; t < this.tables; t++) this.indexes[t]!.loadState(r.part(`table${t}`), items);
    for (const [own, got] of fns) own.set(got as never);
  }
}

/**
 * Bytes L tables of a family hold for `items` items at most: their functions, their indexes'
 * head tables and links (an upper bound for hashed indexes), for budget planning.
 *
 * @param dim - Vector dimension.
 * @param tables - L.
 * @param family - Family kind and shape.
 * @param rng - Source of a probe draw (consumed).
 * @param direct - Direct-addressed bucket heads (default when the family has at most 2^16 cells).
 * @returns `{ fixed, perItem }` bytes.
 * @example
 * ```ts
 * import { Rng } from '@kv/core';
 * import { tableBytes } from '@kv/lsh';
 * tableBytes(16, 4, { kind: 'simhash', hashes: 8 }, new Rng(0)); // { fixed: 4·(8·16·4 + 8·256), perItem: 48 }
 * ```
  * @throws `InvalidParamsError` (from `@kv/core`) for a bad family shape.
 */
export function tableBytes(
  dim: number,
  tables: number,
  family: FamilyOptions,
  rng: Rng,
  direct?: boolean,
): {
  /** Bytes independent of the items: functions and bucket heads. */
  fixed: number;
  /** Bytes per item: its links in every table. */
  perItem: number;
} {
  const probe = new LshTables(dim, 1, family, rng, 1, false, direct);
  return { fixed: tables * probe.fixedBytes, perItem: tables * probe.perItemBytes };
}
