// The memory system's ceiling for the threads figure: the GB/s one thread and two threads at once
// stream from DRAM (each its own 128 MiB, f32x4 loads, nothing else). A threaded attend over a
// layer that does not fit the caches reads no faster than the two threads' figure, whatever the
// pool does: its speed-up over one thread is at most that figure over the one-thread attend's GB/s
// (a faster one-thread kernel leaves less to gain).
import { Worker } from 'node:worker_threads';
import wabtInit from 'wabt';

const STREAM_WAT = `(module
  (memory (export "memory") 2048)
  (func (export "stream") (param $bytes i32) (param $passes i32) (result f32)
    (local $p i32) (local $a v128) (local $b v128)
    (loop $pass
      (local.set $p (i32.const 0))
      (loop $each
        (local.set $a (f32x4.add (local.get $a) (v128.load (local.get $p))))
        (local.set $b (f32x4.add (local.get $b) (v128.load offset=16 (local.get $p))))
        (local.set $p (i32.add (local.get $p) (i32.const 32)))
        (br_if $each (i32.lt_u (local.get $p) (local.get $bytes))))
      (local.set $passes (i32.sub (local.get $passes) (i32.const 1)))
      (br_if $pass (i32.gt_s (local.get $passes) (i32.const 0))))
    (f32x4.extract_lane 0 (f32x4.add (local.get $a) (local.get $b)))))`;

// The workers say when they are ready and, after the go word, how long their stream took.
const WORKER = `
const { workerData, parentPort } = require('node:worker_threads');
const { module, control, bytes, passes } = workerData;
const go = new Int32Array(control);
const x = new WebAssembly.Instance(module, {}).exports;
new Float32Array(x.memory.buffer).fill(1);
x.stream(bytes, 1);
parentPort.postMessage('ready');
Atomics.wait(go, 0, 0);
const t0 = performance.now();
x.stream(bytes, passes);
parentPort.postMessage(performance.now() - t0);
`;

const BYTES = 128 << 20;

// The part of the WebAssembly API used here (the package compiles without DOM typings).
const { Module: WasmModule } = (globalThis as unknown as { WebAssembly: { Module: new (bytes: Uint8Array) => object } }).WebAssembly;

// Milliseconds until the slowest of `count` threads, started together, has streamed its bytes.
async function streams(module: object, count: number, passes: number): Promise<number> {
  const control = new SharedArrayBuffer(4);
  const workers = Array.from({ length: count }, () => new Worker(WORKER, { eval: true, workerData: { module, control, bytes: BYTES, passes } }));
  const next = (w: Worker): Promise<unknown> => new Promise((resolve) => w.once('message', resolve));
  await Promise.all(workers.map(next));
  const times = workers.map(next);
  Atomics.store(new Int32Array(control), 0, 1);
  Atomics.notify(new Int32Array(control), 0);
  const ms = Math.max(...((await Promise.all(times)) as number[]));
  await Promise.all(workers.map((w) => w.terminate()));
  return ms;
}

/**
 * Streams 128 MiB per thread, one thread and then two at once, `rounds` times each (alternating).
 * @param rounds - Rounds of each (default 5).
 * @returns One thread's GB/s, two threads' summed GB/s, and their ratio (medians over rounds).
 */
export async function memoryCeiling(rounds = 5): Promise<{ one: number; two: number; scaling: number }> {
  const wabt = await wabtInit();
  const parsed = wabt.parseWat('stream.wat', STREAM_WAT, { simd: true });
  const module = new WasmModule(parsed.toBinary({}).buffer);
  parsed.destroy();
  const passes = 8;
  const one: number[] = [];
  const two: number[] = [];
  for (let r = 0; r < rounds; r++) {
    one.push((BYTES * passes) / (await streams(module, 1, passes)) / 1e6);
    two.push((2 * BYTES * passes) / (await streams(module, 2, passes)) / 1e6);
  }
  const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
  return { one: med(one), two: med(two), scaling: med(two) / med(one) };
}
