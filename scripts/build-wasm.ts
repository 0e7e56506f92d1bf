// Assembles the packages' WebAssembly kernels (.wat) into committed, generated TS modules, so no
// runtime ever needs wabt. From the repository root:
//   pnpm build:wasm            (rewrite every module)
//   pnpm build:wasm --check    (fail if a committed module is stale)
//
// Kernels may use macros (see MACROS), notably `(MADD acc x y)` (acc + x·y on f32x4 lanes),
// expanded to `(f32x4.add acc (f32x4.mul x y))` for the baseline SIMD128 build and, for modules
// that ask for a relaxed twin, to `(f32x4.relaxed_madd x y acc)` (fused multiply-add where the CPU
// has it).
// Modules that ask for shared twins are also built importing a shared memory
// (`(memory 1 65536 shared)`), for stores whose rows worker threads read.
// A line `;; include other.wat` is replaced by that file (beside the including one), so a module
// can be kept in files of one concept each.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import wabtInit from 'wabt';

interface KernelModule {
  wat: string;
  out: string;
  name: string;
  summary: string;
  /** Also emit `${name}_RELAXED`, the relaxed-SIMD build. */
  relaxed?: boolean;
  /** Also emit `${name}_SHARED` (and `${name}_RELAXED_SHARED`), importing a shared memory. */
  shared?: boolean;
}

const modules: KernelModule[] = [
  {
    wat: 'packages/core/src/kernels/attention.wat',
    out: 'packages/core/src/kernels/wasm-attention-bytes.ts',
    name: 'ATTENTION_WASM',
    summary: 'Float64 `dots` and `accum` kernels in f64x2 lanes',
    shared: true,
  },
  {
    wat: 'packages/core/src/kernels/attention-f32.wat',
    out: 'packages/core/src/kernels/wasm-attention-f32-bytes.ts',
    name: 'ATTENTION_F32_WASM',
    summary: 'the fused float32 `attend` and `attendCodes` kernels in f32x4 lanes',
    relaxed: true,
    shared: true,
  },
  {
    wat: 'packages/llm/src/kernels/matvec.wat',
    out: 'packages/llm/src/kernels/matvec-wasm-bytes.ts',
    name: 'MATVEC_WASM',
    summary: 'the `matvec` kernel over weights packed in blocks of 8 rows, in f32x4 lanes',
  },
];

// Reads the balanced s-expression arguments of a macro call starting at `p` (just past its name).
function macroArgs(src: string, p: number, count: number, name: string): { args: string[]; end: number } {
  const args: string[] = [];
  for (let k = 0; k < count; k++) {
    while (/\s/.test(src[p]!)) p++;
    const start = p;
    if (src[p] !== '(') throw new Error(`${name} argument at ${p} is not an s-expression`);
    let depth = 0;
    do {
      if (src[p] === '(') depth++;
      else if (src[p] === ')') depth--;
      p++;
    } while (depth > 0);
    args.push(src.slice(start, p));
  }
  while (/\s/.test(src[p]!)) p++;
  if (src[p] !== ')') throw new Error(`${name} takes ${count} arguments`);
  return { args, end: p + 1 };
}

// The kernels' macros: MADD (acc + x·y on f32x4 lanes; a fused multiply-add in relaxed builds)
// and HALF.
const MACROS: Record<string, { args: number; expand: (a: string[], relaxed: boolean) => string }> = {
  MADD: { args: 3, expand: ([acc, x, y], relaxed) => (relaxed ? `(f32x4.relaxed_madd ${x} ${y} ${acc})` : `(f32x4.add ${acc} (f32x4.mul ${x} ${y}))`) },
  // f16 → f32 of four halves h, each in the high half of its i32 lane (the low half is ignored):
  // an arithmetic shift puts exponent and mantissa in f32 position, the mask keeps one sign bit
  // and drops the low half, and ·2^112 rebiases the exponent (exact for normals, subnormals, 0).
  HALF: { args: 1, expand: ([x]) => `(f32x4.mul (v128.and (i32x4.shr_s ${x} (i32.const 3)) (i32x4.splat (i32.const 0x8fffe000))) (f32x4.splat (f32.const 0x1p112)))` },
};

const MACRO_CALL = new RegExp(`\\((${Object.keys(MACROS).join('|')})\\s`);

function expandMacros(src: string, relaxed: boolean): string {
  let out = '';
  let i = 0;
  for (;;) {
    const m = MACRO_CALL.exec(src.slice(i));
    if (m === null) return out + src.slice(i);
    const at = i + m.index;
    out += src.slice(i, at);
    const macro = MACROS[m[1]!]!;
    const { args, end } = macroArgs(src, at + 1 + m[1]!.length, macro.args, m[1]!);
    out += macro.expand(args.map((a) => expandMacros(a, relaxed)), relaxed);
    i = end;
  }
}

const wabt = await wabtInit();
const check = process.argv.includes('--check');
let stale = 0;

const MEMORY = '(import "env" "memory" (memory 1))';

function assemble(source: string, text: string, relaxed: boolean, shared = false): Uint8Array {
  let code = text.replace(/;;.*$/gm, '');
  if (shared) {
    if (!code.includes(MEMORY)) throw new Error(`${source} does not import its memory as ${MEMORY}`);
    code = code.replace(MEMORY, '(import "env" "memory" (memory 1 65536 shared))');
  }
  const parsed = wabt.parseWat(source, expandMacros(code, relaxed), { simd: true, relaxed_simd: relaxed, bulk_memory: true, threads: shared });
  parsed.resolveNames();
  // wabt 1.0.39's validator refuses shared memories even with the threads feature on; the
  // engine's validator checks those builds instead (relaxed ones only where it has relaxed SIMD).
  if (!shared) parsed.validate();
  const { buffer } = parsed.toBinary({ canonicalize_lebs: true, write_debug_names: false });
  parsed.destroy();
  if (shared && !relaxed && !WebAssembly.validate(buffer)) throw new Error(`${source}: the shared build does not validate`);
  return buffer;
}

const rows = (buffer: Uint8Array): string => {
  const lines: string[] = [];
  for (let i = 0; i < buffer.length; i += 24) lines.push(`  ${Array.from(buffer.subarray(i, i + 24)).join(', ')},`);
  return lines.join('\n');
};

// The text of a .wat file with its `;; include` lines replaced by the files they name.
function withIncludes(path: string): string {
  return readFileSync(path, 'utf8').replace(/^[ \t]*;; include (\S+\.wat)[ \t]*$/gm, (_, name: string) => {
    const part = join(dirname(path), name);
    if (!existsSync(part)) throw new Error(`${path} includes ${name}, which does not exist`);
    return withIncludes(part);
  });
}

for (const m of modules) {
  if (!existsSync(m.wat)) throw new Error(`${m.wat} does not exist: drop its entry from scripts/build-wasm.ts`);
  const source = basename(m.wat);
  const wat = withIncludes(m.wat);
  const base = assemble(source, wat, false);
  let text = `// Generated by scripts/build-wasm.ts from ${source}. Do not edit.
/**
 * The binary of \`${source}\` (${base.length} bytes): ${m.summary}.
 * @internal
 */
export const ${m.name}: readonly number[] = [
${rows(base)}
];
`;
  const variant = (suffix: string, relaxed: boolean, shared: boolean, what: string): void => {
    const bytes = assemble(source, wat, relaxed, shared);
    text += `
/**
 * The ${what} build of \`${source}\` (${bytes.length} bytes).
 * @internal
 */
export const ${m.name}${suffix}: readonly number[] = [
${rows(bytes)}
];
`;
  };
  if (m.relaxed) variant('_RELAXED', true, false, 'relaxed-SIMD (fused multiply-add)');
  if (m.shared) variant('_SHARED', false, true, 'shared-memory');
  if (m.relaxed && m.shared) variant('_RELAXED_SHARED', true, true, 'relaxed-SIMD, shared-memory');
  if (!check) {
    writeFileSync(m.out, text);
    console.log(`wrote ${m.out} (${base.length} bytes)`);
  } else if (readFileSync(m.out, 'utf8') !== text) {
    console.error(`${m.out} is stale: run pnpm build:wasm`);
    stale++;
  } else {
    console.log(`${m.out} is up to date (${base.length} bytes)`);
  }
}
process.exit(stale ? 1 : 0);
