import { defineConfig } from 'tsup';

export default defineConfig({
  // The library, the CLI as a library (`@kv/eval/cli`), the worker-thread entry (the pool starts
  // dist/worker.js or dist/worker.cjs next to itself) and the executable's entry (dist/cli.js,
  // which bin/kv-eval.js runs).
  entry: { index: 'src/index.ts', 'cli-entry': 'src/cli-entry.ts', worker: 'src/worker.ts', cli: 'src/bin.ts' },
  format: ['esm', 'cjs'],
  dts: { entry: { index: 'src/index.ts', 'cli-entry': 'src/cli-entry.ts' } },
  sourcemap: true,
  clean: true,
  // import.meta.url in the CJS build, where the pool locates worker.cjs.
  shims: true,
  target: 'es2022',
});
