// Just the slice of the WebAssembly JS API used here, read from globalThis: the packages compile
// without DOM typings and still load (falling back to JS) where WebAssembly is absent.
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { readonly exports: unknown };
  Memory: new (descriptor: { initial: number; maximum?: number; shared?: boolean }) => WasmMemory;
}

/**
 * The part of a `WebAssembly.Memory` the kernels use.
 *
 * @example
 * ```ts
 * import { WasmSimdModule, type WasmMemory } from '@kv/core';
 * declare const module: WasmSimdModule;
 * const memory: WasmMemory | undefined = module.instantiate()?.memory;
 * memory?.grow(1); // one more 64 KiB page
 * ```
 */
export interface WasmMemory {
  /** The memory's bytes (detached and replaced whenever it grows). */
  readonly buffer: ArrayBuffer;
  /**
   * Grows the memory.
   * @param pages - 64 KiB pages to add.
   * @returns The previous size in pages.
   */
  grow(pages: number): number;
}

/**
 * One instance of a {@link WasmSimdModule}, with the memory it imports as `env.memory`.
 *
 * @example
 * ```ts
 * import { WasmSimdModule, type WasmSimdInstance } from '@kv/core';
 * declare const module: WasmSimdModule;
 * const instance: WasmSimdInstance | null = module.instantiate();
 * const bytes = instance ? instance.memory.buffer.byteLength : 0; // 65536 at first
 * ```
 */
export interface WasmSimdInstance {
  /** The instance's own memory (one page to start with). */
  readonly memory: WasmMemory;
  /** The module's exports (the kernels). */
  readonly exports: unknown;
}

/**
 * A small WebAssembly SIMD kernel module that falls back cleanly: compiled synchronously on first
 * use (modules under 4 KB may be compiled synchronously on a browser's main thread), and
 * unavailable, rather than failing, where WebAssembly or fixed-width SIMD is missing
 * (`WebAssembly.validate` is the feature test). Each instance gets a memory of its own, so every
 * cache keeps its rows in place for the kernels. Shared by core's attention path and other
 * packages' kernels (KIVI's).
 *
 * @example
 * ```ts
 * import { WasmSimdModule } from '@kv/core';
 * const kernels = new WasmSimdModule([0, 97, 115, 109, 1, 0, 0, 0]); // an empty module
 * if (kernels.available) {
 *   const instance = kernels.instantiate(); // null if the engine refuses another memory
 * }
 * ```
 */
export class WasmSimdModule {
  private readonly bytes: readonly number[];
  private compiled: object | null | undefined;

  /** @param bytes - The module's binary (a generated, committed constant). */
  constructor(bytes: readonly number[]) {
    this.bytes = bytes;
  }

  /** Whether this engine compiles the module (WebAssembly with fixed-width SIMD). */
  get available(): boolean {
    return this.module() !== null;
  }

  /**
   * A new instance importing `memory` (default: a fresh one-page memory) as `env.memory`.
   * @param memory - A memory to share with other instances (another module's, or a shared one).
   * @returns The instance, or null when the module is unavailable or the engine refuses.
   */
  instantiate(memory?: WasmMemory): WasmSimdInstance | null {
    const module = this.module();
    const api = wasmApi();
    if (module === null || api === undefined) return null;
    try {
      const mem = memory ?? new api.Memory({ initial: 1 });
      const instance = new api.Instance(module, { env: { memory: mem } });
      return { memory: mem, exports: instance.exports };
    } catch {
      return null;
    }
  }

  /**
   * The compiled module (a `WebAssembly.Module`, which worker threads can instantiate), or null
   * where it does not compile.
   * @returns The module or null.
   */
  compiledModule(): object | null {
    return this.module();
  }

  private module(): object | null {
    if (this.compiled !== undefined) return this.compiled;
    this.compiled = null;
    const api = wasmApi();
    if (api === undefined) return null;
    try {
      const bytes = Uint8Array.from(this.bytes);
      if (api.validate(bytes)) this.compiled = new api.Module(bytes);
    } catch {
      this.compiled = null;
    }
    return this.compiled;
  }
}

/**
 * A new shared WebAssembly memory (its buffer is a SharedArrayBuffer, so worker threads can run
 * kernels on it), or null where shared memories are unavailable (no threads feature, or a browser
 * page that is not cross-origin isolated).
 * @param initial - Pages to start with.
 * @param maximum - Most pages it may grow to (reserved as address space up front).
 * @returns The memory or null.
 * @internal
 */
export function createSharedMemory(initial: number, maximum: number): WasmMemory | null {
  const api = wasmApi();
  if (api === undefined || typeof SharedArrayBuffer === 'undefined') return null;
  try {
    return new api.Memory({ initial, maximum, shared: true });
  } catch {
    return null;
  }
}

function wasmApi(): WasmApi | undefined {
  return (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
}
