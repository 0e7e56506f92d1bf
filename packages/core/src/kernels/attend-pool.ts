import type { KernelSums } from '../sums.js';
import { f32SharedModule } from './attention-modules.js';
import type { KernelCallSink } from './store-kernels.js';
import type { WasmMemory } from './wasm-module.js';

// The part of node:worker_threads used here, looked up at run time (process.getBuiltinModule,
// Node ≥ 20.16), so the package still loads in browsers and bundlers (threads are Node-only).
interface WorkerLike {
  postMessage(message: unknown): void;
  unref(): void;
  terminate(): Promise<number>;
}
interface WorkerThreads {
  Worker: new (code: string, options: { eval: true; workerData: unknown }) => WorkerLike;
  MessageChannel: new () => { port1: WorkerLike & { close(): void }; port2: unknown };
}

function workerThreads(): WorkerThreads | null {
  const p = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const wt = p?.getBuiltinModule?.('node:worker_threads') as WorkerThreads | undefined;
  return wt ?? null;
}

// Job layout (Float64 entries): header [memory id, q offset, d, qsum offset, groups, totals
// offset, s, calls], then calls × [fn, 12 arguments], then q (d), qsum (groups), then the
// result slot: m, z, n (s).
const HEADER = 8;
const CALL = 13;
// Control words (Int32): 0 generation posted, 1 generation done, 2 jobs in the batch.
const POSTED = 0;
const DONE = 1;
const JOBS = 2;

// The worker: instantiates the shared-memory kernel module on each store memory it is sent, and
// runs batches of jobs when the generation word changes.
const WORKER_SOURCE = `
const { workerData, receiveMessageOnPort } = require('node:worker_threads');
const { module, control, jobs, port } = workerData;
const ctl = new Int32Array(control);
let buf = new Float64Array(jobs);
const kernels = new Map();
let seen = 0;
function drain() {
  for (let m = receiveMessageOnPort(port); m !== undefined; m = receiveMessageOnPort(port)) {
    const msg = m.message;
    if (msg.jobs) buf = new Float64Array(msg.jobs);
    if (msg.memory) kernels.set(msg.id, { memory: msg.memory, exports: new WebAssembly.Instance(module, { env: { memory: msg.memory } }).exports });
  }
}
for (;;) {
  Atomics.wait(ctl, ${POSTED}, seen);
  seen = Atomics.load(ctl, ${POSTED});
  drain();
  const count = ctl[${JOBS}];
  let at = 0;
  for (let j = 0; j < count; j++) {
    const k = kernels.get(buf[at]);
    const d = buf[at + 2], groups = buf[at + 4], s = buf[at + 6], calls = buf[at + 7];
    const f32 = new Float32Array(k.memory.buffer);
    const f64 = new Float64Array(k.memory.buffer);
    const data = at + ${HEADER} + calls * ${CALL};
    const q = buf[at + 1] / 4, qs = buf[at + 3] / 4, tot = buf[at + 5] / 8;
    for (let i = 0; i < d; i++) f32[q + i] = buf[data + i];
    for (let g = 0; g < groups; g++) f32[qs + g] = buf[data + d + g];
    f64[tot] = -Infinity;
    f64.fill(0, tot + 1, tot + 2 + s);
    for (let c = 0; c < calls; c++) {
      const a = at + ${HEADER} + c * ${CALL};
      if (buf[a] === 0) k.exports.attend(buf[a + 1], buf[a + 2], buf[a + 3], buf[a + 4], buf[a + 5], buf[a + 6], buf[a + 7], buf[a + 8], buf[a + 9], buf[a + 10], buf[a + 11], buf[a + 12]);
      else k.exports.attendCodes(buf[a + 1], buf[a + 2], buf[a + 3], buf[a + 4], buf[a + 5]);
    }
    const out = data + d + groups;
    for (let i = 0; i < 2 + s; i++) buf[out + i] = f64[tot + i];
    at = out + 2 + s;
  }
  Atomics.store(ctl, ${DONE}, seen);
  Atomics.notify(ctl, ${DONE});
}
`;

/**
 * One worker thread and its job buffer (shared), written by the main thread, run by the worker.
 * @internal
 */
class PoolWorker implements KernelCallSink {
  readonly worker: WorkerLike;
  readonly port: WorkerLike & { close(): void };
  readonly ctl: Int32Array;
  jobs: Float64Array;
  generation = 0;
  count = 0;
  private at = 0;
  private callsAt = 0;
  private job = 0;

  constructor(wt: WorkerThreads, module: object) {
    this.ctl = new Int32Array(new SharedArrayBuffer(16));
    this.jobs = new Float64Array(new SharedArrayBuffer(8 * 4096));
    const channel = new wt.MessageChannel();
    this.port = channel.port1;
    this.worker = new wt.Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { module, control: this.ctl.buffer, jobs: this.jobs.buffer, port: channel.port2 },
      transferList: [channel.port2],
    } as never);
    // A pool never keeps the process alive: idle workers wait on an atomic, unreferenced.
    this.worker.unref();
  }

  /** Starts a new batch. */
  reset(): void {
    this.count = 0;
    this.at = 0;
  }

  /**
   * Starts a job: the header and the prepared query of one store.
   * @returns The job's index (its result slot is read with {@link PoolWorker.result}).
   */
  begin(memoryId: number, offsets: { q: number; qsum: number; tot: number; groups: number }, d: number, s: number): number {
    this.ensure(this.at + HEADER + 4 * CALL + d + offsets.groups + 2 + s);
    const b = this.jobs;
    const a = this.at;
    b[a] = memoryId;
    b[a + 1] = offsets.q;
    b[a + 2] = d;
    b[a + 3] = offsets.qsum;
    b[a + 4] = offsets.groups;
    b[a + 5] = offsets.tot;
    b[a + 6] = s;
    b[a + 7] = 0;
    this.job = a;
    this.callsAt = a + HEADER;
    return this.count++;
  }

  call(fn: 0 | 1, a0: number, a1: number, a2: number, a3: number, a4: number, a5: number, a6: number, a7: number, a8: number, a9: number, a10: number, a11: number): void {
    this.ensure(this.callsAt + CALL);
    const b = this.jobs;
    const c = this.callsAt;
    b[c] = fn;
    b[c + 1] = a0;
    b[c + 2] = a1;
    b[c + 3] = a2;
    b[c + 4] = a3;
    b[c + 5] = a4;
    b[c + 6] = a5;
    b[c + 7] = a6;
    b[c + 8] = a7;
    b[c + 9] = a8;
    b[c + 10] = a9;
    b[c + 11] = a10;
    b[c + 12] = a11;
    this.callsAt += CALL;
    b[this.job + 7]!++;
  }

  /** Finishes the job with its query (f64 → sent as doubles, written as f32 by the worker). */
  end(q: Float64Array, qsum: Float64Array, groups: number): number {
    const b = this.jobs;
    const d = b[this.job + 2]!;
    const s = b[this.job + 6]!;
    this.ensure(this.callsAt + d + groups + 2 + s);
    const data = this.callsAt;
    for (let i = 0; i < d; i++) b[data + i] = q[i]!;
    for (let g = 0; g < groups; g++) b[data + d + g] = qsum[g]!;
    const result = data + d + groups;
    this.at = result + 2 + s;
    return result;
  }

  private ensure(entries: number): void {
    if (entries <= this.jobs.length) return;
    const next = new Float64Array(new SharedArrayBuffer(8 * Math.max(entries, 2 * this.jobs.length)));
    next.set(this.jobs);
    this.jobs = next;
    this.port.postMessage({ jobs: next.buffer });
  }

  /** Posts the batch. */
  post(): void {
    Atomics.store(this.ctl, JOBS, this.count);
    Atomics.store(this.ctl, POSTED, ++this.generation);
    Atomics.notify(this.ctl, POSTED);
  }

  /** Waits for the batch to finish. */
  wait(): void {
    // Wait on the value just checked: reading DONE again for Atomics.wait could see the worker's
    // final store, and then wait for a change (and a notify) that never comes.
    for (let done = Atomics.load(this.ctl, DONE); done !== this.generation; done = Atomics.load(this.ctl, DONE)) Atomics.wait(this.ctl, DONE, done);
  }
}

/**
 * Worker threads that run the attention kernels of stores kept in shared WebAssembly memory
 * (`ModelCache` with `threads: n`). The main thread prepares each query (rotation, group sums)
 * and the kernel calls; a worker copies the query into the store's scratch, runs the calls on the
 * store's memory in place and returns the Float64 totals. The same kernels on the same bytes
 * give the same bits as on the main thread. Node only (worker_threads); elsewhere the pool is
 * unavailable and everything runs on the main thread.
 * @internal
 */
export class AttendPool {
  readonly workers: readonly PoolWorker[];
  private readonly ids = new Map<WasmMemory, number>();

  private constructor(workers: PoolWorker[]) {
    this.workers = workers;
  }

  /**
   * Starts `n` workers, or returns null where worker threads or shared memory are unavailable.
   * @param n - Workers (the main thread works too: a pool of n serves n + 1 threads).
   * @returns The pool or null.
   */
  static start(n: number): AttendPool | null {
    const wt = workerThreads();
    const module = f32SharedModule().compiledModule();
    if (wt === null || module === null || n < 1 || typeof SharedArrayBuffer === 'undefined') return null;
    return new AttendPool(Array.from({ length: n }, () => new PoolWorker(wt, module)));
  }

  /**
   * The id of a store memory, sending it to every worker the first time.
   * @param memory - A shared store memory.
   * @returns Its id.
   */
  idOf(memory: WasmMemory): number {
    let id = this.ids.get(memory);
    if (id === undefined) {
      id = this.ids.size;
      this.ids.set(memory, id);
      for (const w of this.workers) w.port.postMessage({ id, memory });
    }
    return id;
  }

  /** Stops the workers. */
  close(): void {
    for (const w of this.workers) {
      w.port.close();
      void w.worker.terminate();
    }
  }
}

/**
 * Reads a job's result slot into `out`.
 * @param jobs - The worker's job buffer.
 * @param at - The slot (from {@link PoolWorker.end}).
 * @param out - Receives m, z, n.
 * @internal
 */
export function readResult(jobs: Float64Array, at: number, out: KernelSums): KernelSums {
  out.m = jobs[at]!;
  out.z = jobs[at + 1]!;
  const n = out.n;
  for (let j = 0; j < n.length; j++) n[j] = jobs[at + 2 + j]!;
  return out;
}

export type { PoolWorker };
