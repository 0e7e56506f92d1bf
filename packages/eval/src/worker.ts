// Worker-thread entry of the runner pool: builds the registry once, then runs the jobs it is sent.
import { parentPort, workerData } from 'node:worker_threads';
import type { PolicyRegistry } from '@kv/core';
import { loadRegistry, PreparedCache } from './job-context.js';
import type { RunJob } from './runner.js';
import { runJob } from './runner.js';

interface WorkerInit {
  readonly registryModule?: string;
}

const init = workerData as WorkerInit;
const port = parentPort!;
let registry: PolicyRegistry | undefined;
const prepared = new PreparedCache();

port.on('message', (msg: { job: RunJob }) => {
  void (async () => {
    try {
      registry ??= await loadRegistry(init.registryModule);
      const result = runJob(registry, msg.job, prepared.get(msg.job));
      port.postMessage({ result });
    } catch (e) {
      port.postMessage({ fatal: e instanceof Error ? `${e.name}: ${e.message}` : String(e), index: msg.job.index });
    }
  })();
});
