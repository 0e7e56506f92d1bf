// Runs the code of the docs: every ts/js code block of README.md, docs/**/*.md, the package
// READMEs and the example READMEs is compiled (against the packages' sources, with the same
// compiler options the packages use) and run (with the @kv/source condition, so no build is
// needed), from the repository root. A block marked `fragment` is only compiled; see
// scripts/lib/snippets.ts for the markers. Also checks every package README's Install section
// (scripts/lib/install.ts). Before the real files it checks itself on a page of deliberately
// broken blocks, so a checker that stopped catching errors fails too.
//
// Usage: node --import tsx scripts/check-docs.ts [file.md ...]
//        node --import tsx scripts/check-docs.ts --fix-install    (pnpm docs:install: rewrite the Install sections)
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { checkInstallSections } from './lib/install.js';
import { builtTypesAreFresh, checkPrograms, type Failure } from './lib/run-snippets.js';
import { blocksOf, programsOf, type Program } from './lib/snippets.js';
import { examplePackages, publishedPackages, repoRoot } from './lib/workspace.js';
import { selfTest } from './lib/check-docs-self-test.js';

function markdownUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'api' || name === 'node_modules' ? [] : markdownUnder(path);
    return name.endsWith('.md') ? [path] : [];
  });
}

/** Every markdown file whose code a reader may paste. */
export function docFiles(): string[] {
  const readmes = [...publishedPackages(), ...examplePackages()].map((p) => join(p.dir, 'README.md'));
  return [join(repoRoot, 'README.md'), ...markdownUnder(join(repoRoot, 'docs')), join(repoRoot, 'examples/README.md'), ...readmes].filter((f) => existsSync(f));
}

const args = process.argv.slice(2);
const fixInstall = args.includes('--fix-install');
const only = args.filter((a) => !a.startsWith('--')).map((a) => join(process.cwd(), a));

if (fixInstall) {
  const { fixed, problems } = checkInstallSections(publishedPackages(), true);
  console.log(fixed.length ? `docs:install: rewrote the Install section of ${fixed.join(', ')}` : 'docs:install: every Install section is up to date');
  for (const p of problems) console.log(`${relative(repoRoot, p.file)}:${p.line}: ${p.message}`);
  process.exit(problems.length ? 1 : 0);
}

const t0 = Date.now();
const self = selfTest();
const files = only.length ? only : docFiles();
const failures: Failure[] = [];
const programs: Program[] = [];
let blockCount = 0;
for (const file of [...self.files, ...files]) {
  const { blocks, problems } = blocksOf(file);
  const built = programsOf(blocks);
  if (!self.files.includes(file)) blockCount += blocks.length;
  programs.push(...built.programs);
  for (const p of [...problems, ...built.problems]) failures.push({ ...p, kind: 'markup' });
}
const useBuild = builtTypesAreFresh();
console.log(`check-docs: type-checking against ${useBuild ? "the packages' built declarations (dist/ is newer than src/)" : "the packages' sources (no fresh build)"}; running against the sources`);
const checked = await checkPrograms(programs, join(repoRoot, '.docs-check'), { quiet: true, useBuild });
const all = [...failures.splice(0), ...checked.failures];
const selfErrors = self.verify(all);
if (selfErrors.length) {
  console.log('check-docs: the self-test on a page of deliberately broken blocks failed, so this checker cannot be trusted:');
  for (const e of selfErrors) console.log(`  ${e}`);
  process.exit(1);
}
console.log('check-docs: self-test passed (a page of deliberately broken blocks: run error, type error, undefined names, fragment type error, failing continued block, output that differs from its "text output" block, bad flag, dangling "continued" are all caught; good blocks pass)');
failures.push(...all.filter((f) => !self.files.includes(f.file)));

for (const p of checkInstallSections(publishedPackages(), false).problems) failures.push({ ...p, kind: p.missingReadme ? 'markup' : 'install' });

const rel = (f: string) => relative(repoRoot, f);
for (const f of failures) console.log(`${rel(f.file)}:${f.line}: ${f.kind}: ${f.message}`);
const docPrograms = programs.filter((p) => !self.files.includes(p.file));
const runnable = docPrograms.filter((p) => p.run).length;
const ran = checked.ran.filter((p) => !self.files.includes(p.file)).length;
console.log(
  `check-docs: ${blockCount} code blocks in ${files.length} files → ${docPrograms.length} programs compiled, ${ran} of ${runnable} runnable ones run ` +
    `(${docPrograms.length - runnable} fragments are compiled only); ` +
    `${failures.length} errors (${((Date.now() - t0) / 1000).toFixed(1)} s)`,
);
process.exit(failures.length ? 1 : 0);
