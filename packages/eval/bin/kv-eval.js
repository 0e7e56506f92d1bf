#!/usr/bin/env node
// The kv-eval executable. An installed package runs its built CLI (dist/cli.js). In a clone of
// the repository before `pnpm build` there is no dist yet: the TypeScript sources are run with the
// repository's tsx and the `@kv/source` condition, so `pnpm exec kv-eval` works right after
// `pnpm install`. The published package never needs tsx (its dist is always there).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

const built = new URL('../dist/cli.js', import.meta.url);
if (existsSync(built)) {
  await import(built.href);
} else {
  const source = fileURLToPath(new URL('../src/bin.ts', import.meta.url));
  let tsx;
  try {
    tsx = createRequire(import.meta.url).resolve('tsx');
  } catch {
    process.stderr.write('kv-eval: this copy has no dist/ and tsx is not installed; run `pnpm build` (or `pnpm install` in the repository) first\n');
    process.exit(1);
  }
  const child = spawnSync(process.execPath, ['--conditions=@kv/source', '--import', pathToFileURL(tsx).href, source, ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(child.status ?? 1);
}
