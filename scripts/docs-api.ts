// `pnpm docs:api`: the API reference and every docs check, each run even when an earlier one
// failed (so one CI run reports every problem), with its time; exits non-zero if any failed.
//   typedoc          the reference into docs/api (fails on an undocumented export)
//   check-examples   every export has an @example, and every @example compiles
//   check-docs       every code block of the docs and READMEs compiles, runs and prints what it says
//   check-throws     every public symbol that can throw a kv error documents @throws
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from './lib/workspace.js';

const tsx = ['--import', 'tsx'];
const steps: [string, string, string[]][] = [
  ['typedoc', process.execPath, [join(repoRoot, 'node_modules/typedoc/bin/typedoc')]],
  ['check-examples', process.execPath, [...tsx, 'scripts/check-examples.ts']],
  ['check-docs', process.execPath, [...tsx, 'scripts/check-docs.ts']],
  ['check-throws', process.execPath, [...tsx, 'scripts/check-throws.ts']],
];
const failed: string[] = [];
for (const [name, cmd, args] of steps) {
  const t0 = Date.now();
  const r = spawnSync(cmd, args, { cwd: repoRoot, stdio: 'inherit' });
  const seconds = ((Date.now() - t0) / 1000).toFixed(0);
  console.log(`docs:api: ${name} ${r.status === 0 ? 'passed' : 'FAILED'} (${seconds} s)`);
  if (r.status !== 0) failed.push(name);
}
console.log(failed.length ? `docs:api: failed: ${failed.join(', ')}` : 'docs:api: all passed');
process.exit(failed.length ? 1 : 0);
