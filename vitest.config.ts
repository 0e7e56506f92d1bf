import { existsSync, readdirSync } from 'node:fs';
import { defineConfig } from 'vitest/config';

// One project per workspace package; the "@kv/source" condition resolves workspace
// imports to TypeScript sources, so tests never need a build.
const projectDirs = ['packages', 'examples'].flatMap((group) =>
  existsSync(group)
    ? readdirSync(group, { withFileTypes: true })
        .filter((entry) => entry.isDirectory() && existsSync(`${group}/${entry.name}/package.json`))
        .map((entry) => `${group}/${entry.name}`)
    : [],
);

export default defineConfig({
  resolve: { conditions: ['@kv/source', 'module', 'import', 'default'] },
  ssr: { resolve: { conditions: ['@kv/source', 'module', 'import', 'default'] } },
  test: {
    // The JSON report feeds the one-line summary that .ci/run prints.
    reporters: ['default', ['json', { outputFile: '.ci/out/test-results.json' }]],
    projects: projectDirs.map((dir) => ({
      extends: true,
      test: {
        name: dir.split('/')[1],
        root: dir,
        include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
        testTimeout: 60_000,
        setupFiles: [new URL('./vitest.setup.ts', import.meta.url).pathname],
      },
    })),
  },
});
