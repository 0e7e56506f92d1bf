// `pnpm examples`: runs every example (each folder of examples/ whose package.json has a `start`
// script, discovered, not listed) one after the other, and checks that it exits 0 and prints what
// its README says it prints. The README's first `text output` block is the expected output: each
// of its lines must appear, in order, in what the example prints. A `…` inside a line matches
// anything (a timing, a browser's version). An example without such a block must only exit 0.
// Usage: node --import tsx scripts/run-examples.ts [name ...]
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { blocksOf } from './lib/snippets.js';
import { examplePackages, repoRoot } from './lib/workspace.js';

/** The README's expected output, or undefined when it promises none. */
function promisedOutput(readme: string): { lines: string[]; line: number } | undefined {
  if (!existsSync(readme)) return undefined;
  const text = readFileSync(readme, 'utf8').split('\n');
  const start = text.findIndex((l) => /^\s*```text\s+output\s*$/.test(l));
  if (start < 0) return undefined;
  const end = text.findIndex((l, i) => i > start && /^\s*```\s*$/.test(l));
  return { lines: text.slice(start + 1, end).map((l) => l.trimEnd()), line: start + 2 };
}

function lineMatches(expected: string, got: string): boolean {
  const pattern = expected
    .split('…')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${pattern}$`).test(got.trimEnd());
}

const only = process.argv.slice(2);
const examples = examplePackages().filter((e) => e.manifest && (e.manifest as { scripts?: Record<string, string> }).scripts?.start && (only.length === 0 || only.some((o) => e.rel.endsWith(o))));
const failures: string[] = [];
for (const example of examples) {
  const t0 = Date.now();
  const r = spawnSync('pnpm', ['--silent', 'start'], { cwd: example.dir, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' }, timeout: 300_000 });
  const seconds = ((Date.now() - t0) / 1000).toFixed(1);
  const output = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  const readme = join(example.dir, 'README.md');
  const problems: string[] = [];
  if (r.status !== 0) problems.push(`exit ${r.status ?? r.signal}`);
  if (!existsSync(readme)) problems.push('no README.md (it should give the command and what the example prints)');
  const promised = promisedOutput(readme);
  if (promised && r.status === 0) {
    const got = (r.stdout ?? '').split('\n');
    let at = 0;
    for (const [i, want] of promised.lines.entries()) {
      if (want.trim() === '') continue;
      const found = got.findIndex((g, j) => j >= at && lineMatches(want, g));
      if (found < 0) {
        problems.push(`${relative(repoRoot, readme)}:${promised.line + i} promises "${want}", which the example does not print (after line ${at + 1} of its output)`);
        break;
      }
      at = found + 1;
    }
  }
  const blocks = existsSync(readme) ? blocksOf(readme).blocks.length : 0;
  console.log(`${problems.length ? 'FAIL' : 'ok  '} ${example.rel} (${seconds} s${promised ? ', output as its README says' : ''}${blocks ? `, ${blocks} code blocks checked by docs:api` : ''})`);
  if (problems.length) {
    console.log(`  ${problems.join('\n  ')}\n  output:\n    ${output.trim().split('\n').join('\n    ')}`);
    failures.push(example.rel);
  }
}
console.log(`examples: ${examples.length - failures.length} of ${examples.length} ok${failures.length ? `; failed: ${failures.join(', ')}` : ''}`);
process.exit(failures.length ? 1 : 0);
