// Checks the TSDoc examples of every package: every public export (whatever the package's
// entry points export) has an `@example`, and every ```ts fence after an @example tag compiles.
// Each fence becomes a module under packages/<pkg>/.examples/ and is compiled with the package's
// own tsconfig (so imports resolve as they do for the package's tests, via the @kv/source
// condition). Usage: node --import tsx scripts/check-examples.ts [package...]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import ts from 'typescript';

const require = createRequire(import.meta.url);

interface Snippet {
  file: string;
  line: number;
  code: string;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith('.ts') && !name.endsWith('.test.ts') && !name.endsWith('.d.ts') ? [path] : [];
  });
}

function snippetsOf(file: string): Snippet[] {
  const lines = readFileSync(file, 'utf8').split('\n');
  const out: Snippet[] = [];
  let inExample = false;
  for (let i = 0; i < lines.length; i++) {
    const text = lines[i]!.replace(/^\s*\*\s?/, '');
    if (/^\s*\*\s*@example/.test(lines[i]!)) {
      inExample = true;
      continue;
    }
    if (/^\s*\*\s*@\w+/.test(lines[i]!) || /\*\//.test(lines[i]!)) inExample = false;
    if (inExample && /^```(ts|typescript)\s*$/.test(text.trim())) {
      const start = i + 1;
      const body: string[] = [];
      for (i = start; i < lines.length; i++) {
        const t = lines[i]!.replace(/^\s*\*\s?/, '');
        if (t.trim() === '```') break;
        body.push(t);
      }
      out.push({ file, line: start + 1, code: body.join('\n') });
      inExample = false;
    }
  }
  return out;
}

// Public exports without an @example tag, found through the type checker from the entry points.
function exportsWithoutExample(root: string): string[] {
  const typedoc = join(root, 'typedoc.json');
  const entries: string[] = existsSync(typedoc)
    ? (JSON.parse(readFileSync(typedoc, 'utf8')) as { entryPoints: string[] }).entryPoints
    : ['src/index.ts'];
  const config = ts.getParsedCommandLineOfConfigFile(join(root, 'tsconfig.json'), {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: () => {},
  });
  if (!config) return [`${root}: cannot read tsconfig.json`];
  const files = entries.map((e) => join(root, e));
  const program = ts.createProgram(files, config.options);
  const checker = program.getTypeChecker();
  const missing: string[] = [];
  for (const file of files) {
    const source = program.getSourceFile(file);
    const moduleSymbol = source && checker.getSymbolAtLocation(source);
    if (!moduleSymbol) continue;
    for (const exported of checker.getExportsOfModule(moduleSymbol)) {
      const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
      const decls = symbol.declarations ?? [];
      const hasExample = decls.some((d) => ts.getJSDocTags(d).some((tag) => tag.tagName.text === 'example'));
      if (!hasExample && decls[0]) {
        const sf = decls[0].getSourceFile();
        const { line } = sf.getLineAndCharacterOfPosition(decls[0].getStart());
        missing.push(`${relative('.', sf.fileName)}:${line + 1}: public export ${exported.name} has no @example`);
      }
    }
  }
  return [...new Set(missing)];
}

const only = process.argv.slice(2);
const packages = readdirSync('packages').filter((p) => existsSync(join('packages', p, 'src')) && (only.length === 0 || only.includes(p)));
let failures = 0;
let total = 0;
for (const pkg of packages) {
  const root = join('packages', pkg);
  const dir = join(root, '.examples');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  const snippets = sourceFiles(join(root, 'src')).flatMap(snippetsOf);
  const origin = new Map<string, Snippet>();
  snippets.forEach((s, n) => {
    const name = `example-${String(n).padStart(4, '0')}.ts`;
    origin.set(name, s);
    // Each snippet is its own module, so names never clash between examples.
    writeFileSync(join(dir, name), `${s.code}\nexport {};\n`);
  });
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({ extends: '../tsconfig.json', compilerOptions: { noEmit: true, noUnusedLocals: false, lib: ['ES2022', 'DOM'] }, include: ['*.ts'] }),
  );
  total += snippets.length;
  const r = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join(dir, 'tsconfig.json')], { encoding: 'utf8' });
  const report = `${r.stdout}${r.stderr}`.trim();
  const errors = report.split('\n').filter((l) => /error TS\d+/.test(l));
  for (const err of errors) {
    const m = /example-(\d{4})\.ts\((\d+),(\d+)\): (.*)$/.exec(err);
    if (!m) {
      console.log(`${pkg}: ${err}`);
      failures++;
      continue;
    }
    const s = origin.get(`example-${m[1]}.ts`)!;
    console.log(`${relative('.', s.file)}:${s.line + Number(m[2]) - 1}: ${m[4]}`);
    failures++;
  }
  rmSync(dir, { recursive: true, force: true });
  const missing = exportsWithoutExample(root);
  for (const m of missing) console.log(m);
  failures += missing.length;
  console.log(`${pkg}: ${snippets.length} examples, ${errors.length} compile errors, ${missing.length} exports without an example`);
}
console.log(`${total} examples checked, ${failures} errors`);
process.exit(failures ? 1 : 0);
