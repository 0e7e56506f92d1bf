import { defineConfig } from 'tsup';

export default defineConfig({
  // The library, the worker-thread entry (the pool starts dist/worker.js or dist/worker.cjs next
  // to itself) and the kv-eval executable (dist/cli.js, shebang kept).
  entry: { index: 'src/index.ts', worker: 'src/worker.ts', cli: 'src/bin.ts' },
  format: ['esm', 'cjs'],
  dts: { entry: { index: 'src/index.ts' } },
  sourcemap: true,
  clean: true,
  // import.meta.url in the CJS build, where the pool locates worker.cjs.
  shims: true,
  target: 'es2022',
});
