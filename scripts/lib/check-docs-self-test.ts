// The docs checker's test of itself: pages of deliberately broken code blocks, checked in the same
// run as the real docs, with the failures each must produce (kind and line). If the checker stops
// catching one, or reports a good block, the whole check fails.
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Failure } from './run-snippets.js';

const FENCE = '```';

const PAGE = `# A page of deliberately broken blocks

${FENCE}ts
const a: number = 1;
console.log('a good block', a);
${FENCE}

${FENCE}ts
const b = 2;
if (b === 2) throw new Error('deliberately broken at run time');
${FENCE}

${FENCE}ts
const c: number = 'not a number';
${FENCE}

${FENCE}ts
// The getting-started bug this checker exists for: names the block never defines.
import { PolicyRegistry, exactPolicy } from '@kv/core';
const cache = new PolicyRegistry().register(exactPolicy).create({ policy: 'exact', keyDim: 4, valueDim: 4 });
cache.append(key, value);
${FENCE}

${FENCE}ts fragment
declare const k: Float32Array;
k.nope();
${FENCE}

${FENCE}ts fragment
declare const k: Float32Array;
if (k.length >= 0) throw new Error('a fragment is compiled, never run');
${FENCE}

${FENCE}ts
import { KvError } from '@kv/core';
const base = new KvError('KV_INVALID_PARAMS', 'a continued block sees this');
${FENCE}

${FENCE}ts continued
import { KvError, isKvError } from '@kv/core';
if (!isKvError(base) || !(base instanceof KvError)) throw new Error('the continued block lost its scope');
console.log(base.message);
${FENCE}

${FENCE}ts continued
if (base.code === 'KV_INVALID_PARAMS') throw new Error('a chain fails where its failing block is');
${FENCE}

${FENCE}ts continue
const misspelled = 1;
${FENCE}

${FENCE}ts
console.log('printed as promised');
${FENCE}

${FENCE}text output
printed as promised
${FENCE}

${FENCE}ts
console.log('the real output');
${FENCE}

${FENCE}text output
a promise the code does not keep
${FENCE}
`;

const DANGLING = `# A page that starts with a continued block

${FENCE}ts continued
console.log('no program before me');
${FENCE}
`;

interface Expected {
  page: 'page' | 'dangling';
  kind: Failure['kind'];
  line: number;
  contains: string;
}

// Lines are 1-based lines of the pages above.
const EXPECTED: Expected[] = [
  { page: 'page', kind: 'run', line: 10, contains: 'deliberately broken at run time' },
  { page: 'page', kind: 'compile', line: 14, contains: 'TS2322' },
  { page: 'page', kind: 'compile', line: 21, contains: "Cannot find name 'key'" },
  { page: 'page', kind: 'compile', line: 21, contains: "Cannot find name 'value'" },
  { page: 'page', kind: 'compile', line: 26, contains: "Property 'nope' does not exist" },
  { page: 'page', kind: 'run', line: 46, contains: 'a chain fails where its failing block is' },
  { page: 'page', kind: 'markup', line: 49, contains: 'unknown code block flag "continue"' },
  { page: 'page', kind: 'output', line: 66, contains: 'a promise the code does not keep' },
  { page: 'dangling', kind: 'markup', line: 3, contains: 'no program before it' },
];

export interface SelfTest {
  files: string[];
  /** Takes every failure of the run; returns what went wrong with the self-test (empty: passed). */
  verify(failures: Failure[]): string[];
}

/** Writes the self-test pages into a temporary folder. */
export function selfTest(): SelfTest {
  const dir = join(tmpdir(), `kv-check-docs-self-test-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  const files = { page: join(dir, 'broken.md'), dangling: join(dir, 'dangling.md') };
  writeFileSync(files.page, PAGE);
  writeFileSync(files.dangling, DANGLING);
  return {
    files: Object.values(files),
    verify(failures) {
      const mine = failures.filter((f) => Object.values(files).includes(f.file));
      const errors: string[] = [];
      const matched = new Set<Failure>();
      for (const e of EXPECTED) {
        const hit = mine.find((f) => !matched.has(f) && f.file === files[e.page] && f.kind === e.kind && f.line === e.line && f.message.includes(e.contains));
        if (hit) matched.add(hit);
        else errors.push(`not caught: ${e.kind} error "${e.contains}" at line ${e.line} of the ${e.page} page`);
      }
      for (const f of mine) if (!matched.has(f)) errors.push(`reported although not broken: ${f.kind} at line ${f.line}: ${f.message.split('\n')[0]}`);
      return errors;
    },
  };
}
