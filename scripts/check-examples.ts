// Checks the TSDoc examples of every package: every public export (whatever the package's
// entry points export) has an `@example`, and every ```ts fence after an @example tag compiles.
// Each fence becomes a module under packages/<pkg>/.examples/ (so imports resolve as they do for
// the package's tests, via the @kv/source condition); all are compiled in one program with the
// packages' compiler options. Usage: node --import tsx scripts/check-examples.ts [package...]
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import ts from 'typescript';

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
function entryPointsOf(root: string): string[] {
  const typedoc = join(root, 'typedoc.json');
  const entries: string[] = (existsSync(typedoc) ? (JSON.parse(readFileSync(typedoc, 'utf8')) as { entryPoints?: string[] }).entryPoints : undefined) ?? ['src/index.ts'];
  return entries.map((e) => join(root, e));
}

function exportsWithoutExample(program: ts.Program, files: string[]): string[] {
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

// Every package's snippets are written beside it (packages/<pkg>/.examples/, so imports resolve
// from the package as its tests do) and compiled in one program: the packages' sources are parsed
// and checked once instead of once per package.
const only = process.argv.slice(2);
const packages = readdirSync('packages').filter((p) => existsSync(join('packages', p, 'src')) && (only.length === 0 || only.includes(p)));
const origin = new Map<string, { pkg: string; snippet: Snippet }>();
const counts = new Map<string, number>();
for (const pkg of packages) {
  const dir = join('packages', pkg, '.examples');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  const snippets = sourceFiles(join('packages', pkg, 'src')).flatMap(snippetsOf);
  counts.set(pkg, snippets.length);
  snippets.forEach((s, n) => {
    const file = join(dir, `example-${String(n).padStart(4, '0')}.ts`);
    origin.set(resolve(file), { pkg, snippet: s });
    // Each snippet is its own module, so names never clash between examples.
    writeFileSync(file, `${s.code}\nexport {};\n`);
  });
}
const base = ts.readConfigFile('tsconfig.base.json', ts.sys.readFile).config as { compilerOptions: Record<string, unknown> };
const { options } = ts.convertCompilerOptionsFromJson(
  { ...base.compilerOptions, types: ['node'], noEmit: true, noUnusedLocals: false, lib: ['ES2022', 'DOM'] },
  process.cwd(),
);
const entryFiles = packages.flatMap((pkg) => entryPointsOf(join('packages', pkg)).map((f) => resolve(f)));
const program = ts.createProgram([...origin.keys(), ...entryFiles], options);
const errorsByPkg = new Map<string, number>();
let failures = 0;
for (const d of ts.getPreEmitDiagnostics(program)) {
  if (d.category !== ts.DiagnosticCategory.Error) continue;
  const message = ts.flattenDiagnosticMessageText(d.messageText, '\n');
  const file = d.file ? resolve(d.file.fileName) : undefined;
  const at = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start) : undefined;
  const snippet = file ? origin.get(file) : undefined;
  failures++;
  if (snippet) {
    errorsByPkg.set(snippet.pkg, (errorsByPkg.get(snippet.pkg) ?? 0) + 1);
    console.log(`${relative('.', snippet.snippet.file)}:${snippet.snippet.line + (at?.line ?? 0)}: error TS${d.code}: ${message}`);
  } else {
    // An error in a package's own sources: the example cannot be trusted until it is fixed.
    console.log(`${file ? relative('.', file) : '?'}${at ? `(${at.line + 1},${at.character + 1})` : ''}: error TS${d.code}: ${message}`);
  }
}
for (const pkg of packages) rmSync(join('packages', pkg, '.examples'), { recursive: true, force: true });
let total = 0;
for (const pkg of packages) {
  const missing = exportsWithoutExample(program, entryPointsOf(join('packages', pkg)).map((f) => resolve(f)));
  for (const m of missing) console.log(m);
  failures += missing.length;
  total += counts.get(pkg) ?? 0;
  console.log(`${pkg}: ${counts.get(pkg)} examples, ${errorsByPkg.get(pkg) ?? 0} compile errors, ${missing.length} exports without an example`);
}
console.log(`${total} examples checked, ${failures} errors`);
process.exit(failures ? 1 : 0);
