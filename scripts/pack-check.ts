// `pnpm pack:check`: what a user who installs the tarballs of `pnpm pack:all` gets, tested.
//  1. publint (strict) and @arethetypeswrong/cli on every tarball in packed/: no problem reported.
//     attw runs with its node16 profile: node10 resolution (TypeScript's `moduleResolution: node`,
//     deprecated in TypeScript 6) is not supported, as the getting-started page says.
//  2. A scratch npm project (npm, not pnpm) runs the getting-started page's Install command
//     (the from-a-clone line, with the clone's real packed/ path) and must end up with exactly the
//     kv packages that line names; then the page's code runs as ESM (.mjs) and as CommonJS (.cjs)
//     against them, and type-checks against their shipped .d.ts/.d.cts (module nodenext).
//  3. The kv-eval command from the tarballs: `npx kv-eval list` and a small `kv-eval run`.
// Usage: node --import tsx scripts/pack-check.ts   (after pnpm pack:all)
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
import { blocksOf, programsOf, programSource } from './lib/snippets.js';
import { kvClosure, packedDir, publishedPackages, repoRoot, tarballName } from './lib/workspace.js';

const require = createRequire(import.meta.url);
const GETTING_STARTED = join(repoRoot, 'docs/getting-started.md');
const packages = publishedPackages();
const problems: string[] = [];
const t0 = Date.now();
const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(1)} s`;

function sh(cmd: string, args: string[], cwd: string, what: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  if (r.status !== 0) {
    problems.push(`${what} failed (exit ${r.status}):\n${`${r.stdout}${r.stderr}`.trim()}`);
    return '';
  }
  return r.stdout;
}

function runAsync(cmd: string, args: string[], cwd: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd, env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' } });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('close', (code) => resolve({ code, output }));
  });
}

// --- 0. Every package has its tarball --------------------------------------------------------
const missing = packages.filter((p) => !existsSync(join(packedDir, tarballName(p.name))));
if (missing.length) {
  console.error(`pack:check: no tarball for ${missing.map((p) => p.name).join(', ')} in packed/: run \`pnpm pack:all\` first`);
  process.exit(1);
}

// --- 1. publint and attw on every tarball ------------------------------------------------------
for (const pkg of packages) {
  const file = join(packedDir, tarballName(pkg.name));
  const data = readFileSync(file);
  const { messages, pkg: manifest } = await publint({ pack: { tarball: data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer }, strict: true, level: 'suggestion' });
  for (const m of messages) problems.push(`publint ${tarballName(pkg.name)}: ${m.type}: ${formatMessage(m, manifest, { color: false })}`);
}
console.log(`pack:check: publint --strict on ${packages.length} tarballs: ${problems.length ? 'problems' : 'no problem'} (${elapsed()})`);

const attw = join(repoRoot, 'node_modules/.bin/attw');
const queue = packages.map((p) => join(packedDir, tarballName(p.name)));
let attwProblems = 0;
await Promise.all(
  [0, 1].map(async () => {
    for (let file = queue.shift(); file; file = queue.shift()) {
      const r = await runAsync(attw, [file, '--profile', 'node16', '--format', 'ascii'], repoRoot);
      if (r.code !== 0) {
        attwProblems++;
        problems.push(`attw ${relative(repoRoot, file)}:\n${r.output.trim()}`);
      }
    }
  }),
);
console.log(`pack:check: @arethetypeswrong/cli (node16 profile) on ${packages.length} tarballs: ${attwProblems ? `${attwProblems} with problems` : 'no problem'} (${elapsed()})`);

// --- 2. The getting-started page, installed by npm from the tarballs --------------------------
const page = readFileSync(GETTING_STARTED, 'utf8');
const installSection = page.slice(page.indexOf('## Install'), page.indexOf('\n## ', page.indexOf('## Install') + 1));
const cloneLine = installSection
  .split('\n')
  .map((l) => l.replace(/#.*$/, '').trim())
  .find((l) => l.startsWith('npm install') && l.includes('packed/'));
if (!cloneLine) {
  console.error(`pack:check: ${relative(repoRoot, GETTING_STARTED)} has no "npm install …packed/…" line in its Install section`);
  process.exit(1);
}
const tarballArgs = cloneLine.split(/\s+/).slice(2).map((a) => join(packedDir, a.slice(a.indexOf('packed/') + 'packed/'.length)));
const app = mkdtempSync(join(tmpdir(), 'kv-pack-check-'));
const keep = !!process.env.KV_KEEP_PACK_CHECK;
process.on('exit', () => (keep ? console.log(`pack:check: scratch project kept in ${app}`) : rmSync(app, { recursive: true, force: true })));
writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'kv-pack-check', version: '0.0.0', private: true }, null, 2));
sh('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', ...tarballArgs], app, `npm install ${cloneLine.split(/\s+/).slice(2).join(' ')}`);
const expected = tarballArgs.map((t) => packages.find((p) => tarballName(p.name) === t.split('/').pop())?.name).filter(Boolean).sort();
const installed = existsSync(join(app, 'node_modules/@kv')) ? readdirSync(join(app, 'node_modules/@kv')).map((n) => `@kv/${n}`).sort() : [];
if (JSON.stringify(installed) !== JSON.stringify(expected)) problems.push(`the getting-started install gave ${installed.join(', ') || 'nothing'}; it names ${expected.join(', ')}`);
console.log(`pack:check: npm installed ${installed.join(', ')} from packed/ into a scratch project (${elapsed()})`);

// The page's programs: its code blocks that run (fragments are only compiled by docs:api).
const { blocks } = blocksOf(GETTING_STARTED, page);
const programs = programsOf(blocks).programs.filter((p) => p.run && p.lang === 'ts');
if (programs.length === 0) problems.push('the getting-started page has no program to run');
const transpile = (code: string, module: ts.ModuleKind) =>
  ts.transpileModule(code, { compilerOptions: { module, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: false, esModuleInterop: true } }).outputText;
const written: string[] = [];
programs.forEach((program, i) => {
  const { code } = programSource(program);
  const first = program.blocks[0]!;
  const where = `${relative(repoRoot, first.file)}:${first.line}`;
  const esm = `${transpile(code, ts.ModuleKind.ESNext)}`;
  // CommonJS has no top-level await: the program runs inside an async function.
  const cjs = `(async () => {\n${transpile(code, ts.ModuleKind.CommonJS)}\n})().catch((e) => { console.error(e); process.exit(1); });\n`;
  writeFileSync(join(app, `program-${i}.mjs`), esm);
  writeFileSync(join(app, `program-${i}.cjs`), cjs);
  writeFileSync(join(app, `program-${i}.mts`), code);
  writeFileSync(join(app, `program-${i}.cts`), code.replace(/^export \{\};$/m, ''));
  written.push(`program-${i}.mts`, `program-${i}.cts`);
  for (const ext of ['mjs', 'cjs']) {
    const out = sh(process.execPath, [`program-${i}.${ext}`], app, `${where} as ${ext === 'mjs' ? 'ESM' : 'CommonJS'} against the tarballs`);
    if (!out) continue;
    console.log(`pack:check: ${where} as ${ext === 'mjs' ? 'ESM' : 'CommonJS'} against the tarballs printed:\n    ${out.trim().split('\n').join('\n    ')}`);
    // What the page says the program prints (its text output blocks) must hold for the tarballs too.
    const clean = (t: string) => t.split('\n').map((l) => l.trimEnd()).join('\n').trim();
    const promised = program.blocks.map((b) => b.output ?? '').filter((o) => o.trim()).join('\n');
    if (promised && clean(promised) !== clean(out)) problems.push(`${where} as ${ext}: the tarballs' output differs from what the page says it prints:\n${clean(promised)}`);
  }
});

// Types as a user's TypeScript sees them: the shipped declarations, resolved by Node's rules.
writeFileSync(
  join(app, 'tsconfig.json'),
  JSON.stringify({
    compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', strict: true, noEmit: true, skipLibCheck: false, types: ['node'], typeRoots: [join(repoRoot, 'node_modules/@types')], lib: ['es2022', 'dom'] },
    files: written,
  }),
);
const tsc = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join(app, 'tsconfig.json'), '--pretty', 'false'], { cwd: app, encoding: 'utf8' });
if (tsc.status !== 0) problems.push(`the getting-started code does not type-check against the tarballs' declarations (module nodenext, ESM and CJS):\n${tsc.stdout}${tsc.stderr}`);
else console.log(`pack:check: the getting-started code type-checks against the shipped declarations as ESM and CJS (nodenext) (${elapsed()})`);

// --- 3. kv-eval from the tarballs ------------------------------------------------------------
const evalPkg = packages.find((p) => p.manifest.bin && Object.keys(typeof p.manifest.bin === 'string' ? { [p.name]: p.manifest.bin } : p.manifest.bin).includes('kv-eval'));
if (evalPkg) {
  const cli = join(app, 'cli');
  mkdirSync(cli);
  writeFileSync(join(cli, 'package.json'), JSON.stringify({ name: 'kv-pack-check-cli', version: '0.0.0', private: true }));
  const closure = kvClosure([evalPkg.name], packages).map((n) => join(packedDir, tarballName(n)));
  sh('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', ...closure], cli, `npm install of ${evalPkg.name} and its kv dependencies from packed/`);
  const list = sh('npx', ['--no', 'kv-eval', 'list'], cli, 'npx kv-eval list (from the tarballs)');
  const run = sh('npx', ['--no', 'kv-eval', 'run', '--policies', 'exact,sliding-window', '--budgets', '1/4', '--workloads', 'gaussian', '--n', '256', '--d', '16', '--out', join(cli, 'out')], cli, 'npx kv-eval run (from the tarballs)');
  if (list && run) console.log(`pack:check: npx kv-eval list (${list.split('\n').length} lines) and kv-eval run work from the tarballs (${elapsed()})`);
}

for (const p of problems) console.error(`\n${p}`);
console.log(`pack:check: ${problems.length ? `${problems.length} problems` : 'ok'} (${elapsed()})`);
process.exit(problems.length ? 1 : 0);
