// Code blocks of the markdown docs, and the programs they form.
//
// A fenced block whose language is ts/typescript/js/javascript is code a reader will paste, so it
// must run. Words after the language say how:
//   ```ts                a program of its own: compiled and run;
//   ```ts continued      continues the page's previous program (its names stay in scope;
//                        imports a previous block already made are dropped); the whole chain runs
//                        once, in order;
//   ```ts fragment       compiled only, never run (code that cannot run in CI: a test file for a
//                        runner, a browser page); it declares what it uses (`declare const x: T`)
//                        or is also `continued`.
// A ```text output block right after a block is what that block prints: the program's standard
// output must equal the output blocks of its blocks, in order (trailing spaces aside).
import { readFileSync } from 'node:fs';
import ts from 'typescript';

export type Lang = 'ts' | 'js';

export interface Block {
  /** The markdown file (as given). */
  file: string;
  /** 1-based line of the block's first code line. */
  line: number;
  lang: Lang;
  code: string;
  fragment: boolean;
  continued: boolean;
  /** What the block prints, from a `text output` block right after it. */
  output?: string;
  /** 1-based line of the output block's first line. */
  outputLine?: number;
}

/** A program made of blocks: one module, compiled, and run unless it ends in a fragment. */
export interface Program {
  file: string;
  blocks: Block[];
  run: boolean;
  lang: Lang;
}

/** Where each line of a program's source came from. */
export interface SourceLine {
  file: string;
  line: number;
}

export interface ProgramSource {
  code: string;
  /** `origin[i]` is where line i + 1 of `code` came from (undefined for added lines). */
  origin: (SourceLine | undefined)[];
}

export interface BlockProblem {
  file: string;
  line: number;
  message: string;
}

const LANGS: Record<string, Lang> = { ts: 'ts', typescript: 'ts', js: 'js', javascript: 'js' };
const FLAGS = new Set(['fragment', 'continued']);

/** The runnable code blocks of one markdown file, and malformed info strings as problems. */
export function blocksOf(file: string, text = readFileSync(file, 'utf8')): { blocks: Block[]; problems: BlockProblem[] } {
  const lines = text.split('\n');
  const blocks: Block[] = [];
  const problems: BlockProblem[] = [];
  let lastLang: string | undefined; // language of the previous fenced block, and its closing line
  let lastClose = -1;
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*([^`\s]*)\s*(.*)$/.exec(lines[i]!);
    if (!open) continue;
    const [, indent, fence, info, rest] = open as unknown as [string, string, string, string, string];
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const l = lines[j]!;
      if (l.trim().startsWith(fence) && l.trim().replace(/[`~]/g, '') === '') break;
      body.push(l.startsWith(indent) ? l.slice(indent.length) : l.trimStart());
    }
    const lang = LANGS[info.toLowerCase()];
    if (info === 'text' && /\boutput\b/.test(rest)) {
      const previous = blocks.at(-1);
      const between = lines.slice(lastClose + 1, i);
      // After a shell block it is a command's output (an example's README, for run-examples.ts).
      if (lastLang === undefined || !LANGS[lastLang]) {
        // not a code block's output
      } else if (!previous || previous.output !== undefined || between.some((l) => l.trim() !== '')) {
        problems.push({ file, line: i + 1, message: 'a "text output" block must follow the code block whose output it is (only blank lines between)' });
      } else {
        previous.output = body.join('\n');
        previous.outputLine = i + 2;
      }
    } else if (lang) {
      const words = rest.split(/\s+/).filter(Boolean);
      const unknown = words.filter((w) => !FLAGS.has(w));
      if (unknown.length) problems.push({ file, line: i + 1, message: `unknown code block flag ${unknown.map((w) => `"${w}"`).join(', ')} (known: ${[...FLAGS].join(', ')})` });
      blocks.push({ file, line: i + 2, lang, code: body.join('\n'), fragment: words.includes('fragment'), continued: words.includes('continued') });
    }
    lastLang = info.toLowerCase();
    lastClose = j;
    i = j;
  }
  return { blocks, problems };
}

/**
 * The programs of one file's blocks: each block that is not `continued` starts a chain; a chain
 * runs once with all its blocks; a fragment is compiled with the chain it continues, not run.
 */
export function programsOf(blocks: Block[]): { programs: Program[]; problems: BlockProblem[] } {
  const programs: Program[] = [];
  const problems: BlockProblem[] = [];
  let chain: Program | undefined;
  for (const block of blocks) {
    if (block.continued && !chain) {
      problems.push({ file: block.file, line: block.line - 1, message: 'a "continued" block with no program before it on the page' });
    }
    if (block.continued && chain && chain.lang !== block.lang) {
      problems.push({ file: block.file, line: block.line - 1, message: `a ${block.lang} block cannot continue a ${chain.lang} program` });
    }
    const base = block.continued && chain ? chain.blocks : [];
    if (block.fragment) {
      programs.push({ file: block.file, blocks: [...base, block], run: false, lang: block.lang });
      continue;
    }
    if (block.continued && chain) {
      chain.blocks.push(block);
    } else {
      chain = { file: block.file, blocks: [block], run: true, lang: block.lang };
      programs.push(chain);
    }
  }
  return { programs, problems };
}

// Import bindings a block makes, by module, so a continued block can drop what is already bound.
function importedNames(decl: ts.ImportDeclaration): string[] {
  const clause = decl.importClause;
  if (!clause) return [];
  const names: string[] = [];
  if (clause.name) names.push(clause.name.text);
  const bindings = clause.namedBindings;
  if (bindings && ts.isNamespaceImport(bindings)) names.push(bindings.name.text);
  if (bindings && ts.isNamedImports(bindings)) for (const el of bindings.elements) names.push(el.name.text);
  return names;
}

/**
 * One program as one module's source. Later blocks' imports of names an earlier block already
 * imported are removed, keeping every line where it was (so errors map back to the markdown).
 */
export function programSource(program: Program): ProgramSource {
  const bound = new Set<string>();
  const out: string[] = [];
  const origin: (SourceLine | undefined)[] = [];
  for (const block of program.blocks) {
    let code = block.code;
    const sf = ts.createSourceFile('block.ts', code, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
    const edits: { start: number; end: number; text: string }[] = [];
    for (const stmt of sf.statements) {
      if (!ts.isImportDeclaration(stmt)) continue;
      const names = importedNames(stmt);
      const fresh = names.filter((n) => !bound.has(n));
      if (fresh.length < names.length && names.length > 0) {
        const original = code.slice(stmt.getStart(sf), stmt.getEnd());
        const newlines = '\n'.repeat((original.match(/\n/g) ?? []).length);
        const clause = stmt.importClause!;
        const bindings = clause.namedBindings;
        let text = '';
        if (fresh.length > 0 && bindings && ts.isNamedImports(bindings) && !clause.name) {
          const kept = bindings.elements.filter((el) => fresh.includes(el.name.text)).map((el) => el.getText(sf));
          text = `import ${clause.isTypeOnly ? 'type ' : ''}{ ${kept.join(', ')} } from ${stmt.moduleSpecifier.getText(sf)};`;
        } else if (fresh.length > 0) {
          text = original.replace(/\n/g, ' ');
        }
        edits.push({ start: stmt.getStart(sf), end: stmt.getEnd(), text: text + newlines });
      }
      for (const n of names) bound.add(n);
    }
    for (const e of edits.reverse()) code = code.slice(0, e.start) + e.text + code.slice(e.end);
    const lines = code.split('\n');
    lines.forEach((l, i) => {
      out.push(l);
      origin.push({ file: block.file, line: block.line + i });
    });
  }
  out.push('export {};');
  origin.push(undefined);
  return { code: out.join('\n'), origin };
}
