// Checks that every public function and method that can throw a kv error (a KvError subclass)
// says so with a TSDoc `@throws` tag. "Can throw" is found through the type checker: a `throw` of
// an expression whose type is a KvError subclass, or a call (constructor, method, getter, super)
// of something that can, transitively, outside try blocks that catch. Calls through an interface
// take the interface member's documented @throws. `this.m()` inside an inherited method resolves
// to the class being checked, so a base method is charged with what the subclass's hooks throw.
//
// Public = the exports of every package's entry points (package.json `exports`, @kv/source files)
// and of the examples' modules (not their main.ts):
// exported functions, and the public constructors, methods and accessors of exported classes.
// A member without a doc comment inherits its base's (as TypeDoc shows it).
//
// A statement preceded by `// cannot throw: <why>` is not counted (see isCaught).
//
// It fails when such a symbol documents no @throws at all; symbols that document some but not
// every class are listed as notes.
//
// Usage: node --import tsx scripts/check-throws.ts [--json] [--verbose] [package ...]
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { examplePackages, publishedPackages, repoRoot, type WorkspacePackage } from './lib/workspace.js';

interface Evidence {
  /** Where the error comes from: `throw` at file:line, or the callee through which it comes. */
  via: string;
}

type Throws = Map<string, Evidence>;

interface Finding {
  pkg: string;
  symbol: string;
  file: string;
  line: number;
  throws: Throws;
  documented: string[];
}

const args = process.argv.slice(2);
const asJson = args.includes('--json');
const verbose = args.includes('--verbose');
const only = args.filter((a) => !a.startsWith('--'));
// The examples' modules are public too: users copy them (their main.ts is a script, not an API).
const examples = examplePackages().map((e) => ({
  ...e,
  entries: existsSync(join(e.dir, 'src'))
    ? readdirSync(join(e.dir, 'src')).filter((f) => f.endsWith('.ts') && f !== 'main.ts' && !f.endsWith('.test.ts')).map((f) => ({ subpath: f, source: join(e.dir, 'src', f) }))
    : [],
}));
const packages = [...publishedPackages(), ...examples].filter((p) => only.length === 0 || only.includes(p.name) || only.includes(p.rel.split('/')[1]!));

const base = ts.readConfigFile(join(repoRoot, 'tsconfig.base.json'), ts.sys.readFile).config as { compilerOptions: ts.CompilerOptions };
const options = ts.convertCompilerOptionsFromJson({ ...base.compilerOptions, types: ['node'], lib: ['ES2022', 'DOM'], noEmit: true }, repoRoot).options;
const entryFiles = packages.flatMap((p) => p.entries.map((e) => e.source));
const program = ts.createProgram(entryFiles, options);
const checker = program.getTypeChecker();

const rel = (f: string) => relative(repoRoot, f);
const where = (node: ts.Node) => {
  const sf = node.getSourceFile();
  return `${rel(sf.fileName)}:${sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1}`;
};

// --- Which classes are kv errors -------------------------------------------------------------
const kvErrorClasses = new Map<ts.Symbol, boolean>();
function isKvErrorClass(symbol: ts.Symbol | undefined): boolean {
  if (!symbol) return false;
  const cached = kvErrorClasses.get(symbol);
  if (cached !== undefined) return cached;
  kvErrorClasses.set(symbol, false);
  let result = false;
  for (const decl of symbol.declarations ?? []) {
    if (!ts.isClassDeclaration(decl) && !ts.isClassExpression(decl)) continue;
    if (decl.name?.text === 'KvError' && rel(decl.getSourceFile().fileName).startsWith('packages/core/')) result = true;
    for (const clause of decl.heritageClauses ?? []) {
      if (clause.token !== ts.SyntaxKind.ExtendsKeyword) continue;
      for (const t of clause.types) {
        let s = checker.getSymbolAtLocation(t.expression);
        if (s && s.flags & ts.SymbolFlags.Alias) s = checker.getAliasedSymbol(s);
        if (isKvErrorClass(s)) result = true;
      }
    }
  }
  kvErrorClasses.set(symbol, result);
  return result;
}

/** The kv error classes a value of this type can be. */
function errorClassesOf(type: ts.Type): string[] {
  const parts = type.isUnion() ? type.types : [type];
  const out: string[] = [];
  for (const t of parts) {
    const s = t.getSymbol();
    if (s && isKvErrorClass(s)) out.push(s.getName());
  }
  return out;
}

// --- Documented @throws ----------------------------------------------------------------------
const errorNames = new Set<string>();
function documentedThrows(decl: ts.Node): string[] | undefined {
  const docs = ts.getJSDocCommentsAndTags(decl).filter(ts.isJSDoc);
  if (docs.length === 0) return undefined;
  const names: string[] = [];
  for (const doc of docs) {
    // TypeScript splits `@throws {@link X}` into a throws tag and a link, so read the comment's
    // text: a block tag runs until the next line that starts with another block tag.
    const lines = doc.getSourceFile().text.slice(doc.pos, doc.end).split('\n').map((l) => l.replace(/^\s*(\/\*\*|\*\/|\*)?\s?/, ''));
    let inThrows = false;
    let section = '';
    const flush = () => {
      if (!inThrows) return;
      const found = [...section.matchAll(/[A-Z][A-Za-z0-9]*Error\b/g)].map((m) => m[0]);
      names.push(...(found.length ? found : ['(unnamed)']));
    };
    for (const line of lines) {
      const tag = /^@(\w+)/.exec(line.trim());
      if (tag) {
        flush();
        inThrows = tag[1] === 'throws';
        section = line;
      } else section += ` ${line}`;
    }
    flush();
  }
  return names;
}

/** The declaration TypeDoc takes the comment from: its own, else the base class's or interface's member. */
function effectiveDocs(decl: ts.Declaration, name: string, classDecl: ts.ClassLikeDeclaration | undefined): string[] | undefined {
  const own = documentedThrows(decl);
  if (own !== undefined || !classDecl) return own;
  for (const clause of classDecl.heritageClauses ?? []) {
    for (const t of clause.types) {
      const type = checker.getTypeAtLocation(t);
      const prop = type.getProperty(name);
      for (const d of prop?.declarations ?? []) {
        const parent = ts.isClassLike(d.parent) ? d.parent : undefined;
        const docs = effectiveDocs(d, name, parent);
        if (docs !== undefined) return docs;
      }
    }
  }
  return undefined;
}

// --- What a function-like declaration can throw ----------------------------------------------
type FunctionLike = ts.FunctionLikeDeclaration;
const memo = new Map<string, Throws>();
const inProgress = new Set<string>();
let nextId = 0;
const ids = new WeakMap<object, number>();
const idOf = (o: object) => {
  let id = ids.get(o);
  if (id === undefined) ids.set(o, (id = nextId++));
  return id;
};

function add(into: Throws, name: string, via: string) {
  if (!into.has(name)) into.set(name, { via });
}

function calleeName(decl: ts.Declaration): string {
  const own = ts.getNameOfDeclaration(decl)?.getText() ?? (ts.isConstructorDeclaration(decl) ? 'constructor' : '(anonymous)');
  const parent = decl.parent;
  if (parent && (ts.isClassLike(parent) || ts.isInterfaceDeclaration(parent)) && parent.name) {
    return ts.isConstructorDeclaration(decl) ? `new ${parent.name.text}` : `${parent.name.text}.${own}`;
  }
  if (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent)) return ts.getNameOfDeclaration(parent)?.getText() ?? own;
  return own;
}

/** Throws of whatever a call-like node invokes; `ctx` is the class `this` stands for. */
function throwsOfTarget(decl: ts.Declaration | undefined, ctx: ts.Type | undefined, into: Throws, site: ts.Node) {
  if (!decl) return;
  const file = decl.getSourceFile().fileName;
  // Third-party code is not followed; kv packages are, even when reached through an example's
  // node_modules link (TypeScript then counts them as external libraries).
  if (file.endsWith('.d.ts') || realpathSync(file).includes('/node_modules/')) return;
  let target: ts.Declaration = decl;
  if (ts.isVariableDeclaration(decl) && decl.initializer && (ts.isArrowFunction(decl.initializer) || ts.isFunctionExpression(decl.initializer))) target = decl.initializer;
  if (ts.isPropertyDeclaration(decl) && decl.initializer && (ts.isArrowFunction(decl.initializer) || ts.isFunctionExpression(decl.initializer))) target = decl.initializer;
  const name = calleeName(decl);
  if (ts.isMethodSignature(target) || ts.isPropertySignature(target) || (ts.isFunctionLike(target) && !(target as FunctionLike).body)) {
    // An interface member or an abstract method: what its documentation promises.
    for (const n of documentedThrows(target) ?? []) if (errorNames.has(n)) add(into, n, `${name} (documented)`);
    return;
  }
  if (!ts.isFunctionLike(target)) return;
  const inner = throwsOf(target as FunctionLike, ctx);
  for (const [n] of inner) add(into, n, `${name} at ${where(site)}`);
}

/**
 * Whether `node` cannot throw out of `stop`: it sits in the try block of a try statement that has
 * a catch clause, or its statement is preceded by a `// cannot throw: <why>` comment (for a call
 * whose error the caller's own checks rule out, e.g. registering a fixed list of distinct names).
 */
function isCaught(node: ts.Node, stop: ts.Node): boolean {
  for (let n: ts.Node = node; n !== stop && n.parent; n = n.parent) {
    const p = n.parent;
    if (ts.isTryStatement(p) && p.tryBlock === n && p.catchClause) return true;
    if (ts.isStatement(n) || ts.isClassElement(n)) {
      const text = n.getSourceFile().text;
      for (const c of ts.getLeadingCommentRanges(text, n.pos) ?? []) if (/cannot throw:\s*\S/.test(text.slice(c.pos, c.end))) return true;
    }
  }
  return false;
}

function throwsOf(fn: FunctionLike, ctx: ts.Type | undefined): Throws {
  const key = `${idOf(fn)}|${ctx ? idOf(ctx) : '-'}`;
  const cached = memo.get(key);
  if (cached) return cached;
  const out: Throws = new Map();
  if (inProgress.has(key)) return out;
  inProgress.add(key);
  const body = fn.body;
  if (body) {
    const visit = (node: ts.Node) => {
      // A nested function runs when called, not here, unless it is handed to a call (a callback).
      if (node !== fn && ts.isFunctionLike(node) && !(node.parent && ts.isCallExpression(node.parent) && node.parent.arguments.includes(node as ts.Expression))) return;
      if (ts.isClassLike(node)) return;
      if (ts.isThrowStatement(node) && node.expression && !isCaught(node, fn)) {
        // Rethrowing a caught error narrowed to the base class adds nothing a reader can act on.
        const rethrow = !ts.isNewExpression(node.expression);
        for (const n of errorClassesOf(checker.getTypeAtLocation(node.expression))) if (!(rethrow && n === 'KvError')) add(out, n, `throw at ${where(node)}`);
      }
      if ((ts.isCallExpression(node) || ts.isNewExpression(node) || ts.isDecorator(node)) && !isCaught(node, fn)) {
        const callee = ts.isCallExpression(node) ? node.expression : ts.isNewExpression(node) ? node.expression : undefined;
        let decl: ts.Declaration | undefined;
        if (callee && ts.isPropertyAccessExpression(callee) && callee.expression.kind === ts.SyntaxKind.ThisKeyword && ctx) {
          decl = ctx.getProperty(callee.name.text)?.valueDeclaration;
        }
        decl ??= checker.getResolvedSignature(node as ts.CallLikeExpression)?.getDeclaration();
        if (!decl && ts.isNewExpression(node)) {
          // A class without its own constructor: its base's constructor runs.
          const type = checker.getTypeAtLocation(node.expression);
          decl = type.getConstructSignatures()[0]?.getDeclaration();
        }
        const newCtx = ts.isNewExpression(node) ? checker.getTypeAtLocation(node) : ctx;
        throwsOfTarget(decl, ts.isNewExpression(node) || (callee && callee.kind === ts.SyntaxKind.SuperKeyword) ? newCtx : ctx, out, node);
      }
      if (ts.isPropertyAccessExpression(node) && !isCaught(node, fn) && !(node.parent && ts.isCallExpression(node.parent) && node.parent.expression === node)) {
        // Getters run on access.
        let symbol = checker.getSymbolAtLocation(node);
        if (node.expression.kind === ts.SyntaxKind.ThisKeyword && ctx) symbol = ctx.getProperty(node.name.text) ?? symbol;
        const getter = symbol?.declarations?.find(ts.isGetAccessorDeclaration);
        const isWrite = ts.isBinaryExpression(node.parent) && node.parent.left === node && node.parent.operatorToken.kind === ts.SyntaxKind.EqualsToken;
        if (getter && !isWrite) throwsOfTarget(getter, node.expression.kind === ts.SyntaxKind.ThisKeyword ? ctx : undefined, out, node);
      }
      ts.forEachChild(node, visit);
    };
    ts.forEachChild(body, visit);
  }
  inProgress.delete(key);
  memo.set(key, out);
  return out;
}

// --- The public surface ------------------------------------------------------------------------
function isPublicMember(m: ts.ClassElement): boolean {
  const flags = ts.getCombinedModifierFlags(m as ts.Declaration);
  if (flags & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) return false;
  if (m.name && ts.isPrivateIdentifier(m.name)) return false;
  if (ts.getJSDocTags(m).some((t) => t.tagName.text === 'internal')) return false;
  return ts.isMethodDeclaration(m) || ts.isConstructorDeclaration(m) || ts.isGetAccessorDeclaration(m) || ts.isSetAccessorDeclaration(m) ||
    (ts.isPropertyDeclaration(m) && !!m.initializer && (ts.isArrowFunction(m.initializer) || ts.isFunctionExpression(m.initializer)));
}

function publicSymbols(pkg: WorkspacePackage): { name: string; decl: ts.Declaration; fn: FunctionLike | undefined; ctx: ts.Type | undefined; cls: ts.ClassLikeDeclaration | undefined }[] {
  const out: ReturnType<typeof publicSymbols> = [];
  const seen = new Set<ts.Node>();
  for (const entry of pkg.entries) {
    const sf = program.getSourceFile(entry.source);
    const moduleSymbol = sf && checker.getSymbolAtLocation(sf);
    if (!moduleSymbol) continue;
    for (const exported of checker.getExportsOfModule(moduleSymbol)) {
      const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
      for (const decl of symbol.declarations ?? []) {
        if (seen.has(decl) || !rel(decl.getSourceFile().fileName).startsWith(pkg.rel + '/')) continue;
        seen.add(decl);
        if (ts.isFunctionDeclaration(decl) && decl.body) {
          out.push({ name: exported.name, decl, fn: decl, ctx: undefined, cls: undefined });
        } else if (ts.isVariableDeclaration(decl) && decl.initializer && (ts.isArrowFunction(decl.initializer) || ts.isFunctionExpression(decl.initializer))) {
          out.push({ name: exported.name, decl, fn: decl.initializer, ctx: undefined, cls: undefined });
        } else if (ts.isClassDeclaration(decl) && !isKvErrorClass(symbol)) {
          const instance = checker.getDeclaredTypeOfSymbol(symbol);
          for (const m of decl.members) {
            if (!isPublicMember(m)) continue;
            const isStatic = ts.getCombinedModifierFlags(m as ts.Declaration) & ts.ModifierFlags.Static;
            const memberName = ts.isConstructorDeclaration(m) ? 'constructor' : m.name!.getText();
            const fn = ts.isPropertyDeclaration(m) ? (m.initializer as FunctionLike) : (m as FunctionLike);
            out.push({ name: `${exported.name}${isStatic ? '.' : '#'}${memberName}`.replace('#', '.'), decl: m, fn, ctx: isStatic ? undefined : instance, cls: decl });
          }
        }
      }
    }
  }
  return out;
}

// --- Run ---------------------------------------------------------------------------------------
for (const sf of program.getSourceFiles()) {
  if (sf.isDeclarationFile) continue;
  ts.forEachChild(sf, function visit(n) {
    if (ts.isClassDeclaration(n) && n.name && isKvErrorClass(checker.getSymbolAtLocation(n.name))) errorNames.add(n.name.text);
    ts.forEachChild(n, visit);
  });
}

const missing: Finding[] = [];
const partial: Finding[] = [];
for (const pkg of packages) {
  for (const s of publicSymbols(pkg)) {
    if (!s.fn || !s.fn.body) continue;
    let throws = throwsOf(s.fn, s.ctx);
    if (ts.isConstructorDeclaration(s.decl) && s.ctx) throws = throwsOf(s.fn, s.ctx);
    if (throws.size === 0) continue;
    const memberName = s.name.split('.').pop()!;
    const docs = effectiveDocs(s.decl, memberName, s.cls) ?? [];
    const sf = s.decl.getSourceFile();
    const line = sf.getLineAndCharacterOfPosition(s.decl.getStart(sf)).line + 1;
    const finding = { pkg: pkg.name, symbol: s.name, file: rel(sf.fileName), line, throws, documented: docs };
    if (verbose) console.log(`  ${finding.file}:${line}: ${s.name}: throws ${[...throws.keys()].join(', ')}; documents ${docs.join(', ') || 'none'}`);
    if (docs.length === 0) missing.push(finding);
    else if ([...throws.keys()].some((n) => !docs.includes(n)) && !docs.includes('(unnamed)')) partial.push(finding);
  }
}

const failing = missing;

const describe = (t: Throws) => [...t].map(([n, e]) => `${n} (${e.via})`).join('; ');
if (asJson) {
  console.log(JSON.stringify({ failing, partial }, (_, v) => (v instanceof Map ? Object.fromEntries(v) : v), 2));
} else {
  for (const f of failing) console.log(`${f.file}:${f.line}: ${f.symbol} can throw ${[...f.throws.keys()].join(', ')} but documents no @throws\n    ${describe(f.throws)}`);
  const byPkg = new Map<string, Finding[]>();
  for (const f of partial) (byPkg.get(f.pkg) ?? byPkg.set(f.pkg, []).get(f.pkg)!).push(f);
  if (byPkg.size) console.log('\ncheck-throws: notes (not failing): symbols that document some of the classes they can throw:');
  for (const [pkg, q] of byPkg) {
    console.log(`  ${pkg}: ${q.length} document only some`);
    for (const f of q) console.log(`    ${f.file}:${f.line}: ${f.symbol}: documents ${f.documented.join(', ')}; also ${[...f.throws.keys()].filter((n) => !f.documented.includes(n)).join(', ')}`);
  }
}
console.log(`check-throws: ${packages.length} packages, ${missing.length + partial.length} public symbols with undocumented kv errors: ${failing.length} failing (no @throws), ${partial.length} documenting only some classes`);
process.exit(failing.length ? 1 : 0);
