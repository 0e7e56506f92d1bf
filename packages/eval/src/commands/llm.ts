import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, dirname, resolve } from 'node:path';
import { budgetBytes as coreBudgetBytes, isByteBudget, type PolicyRegistry } from '@kv/core';
import { evaluateText, generate, kvzipPolicy, type LlamaModel, referenceRun, type TextMetrics } from '@kv/llm';
import { findModel, findRepoRoot, loadModel, whereToPutAModel } from '@kv/llm/node';
import { spaceBounds } from '../bounds.js';
import { type BudgetChoice, type BudgetContext, FULL_BUDGET, parseBudget, resolveBudget } from '../budgets.js';
import { DEFAULT_QUERIES } from '../queries.js';
import { policyFamilies } from '../report/families.js';
import { plotFile } from '../report/plots.js';
import { reportOutcome } from './run.js';
import { ConfigError } from '../errors.js';
import { writeReport } from '../evaluate.js';
import { loadRegistry } from '../job-context.js';
import { fmt, fmtBytes } from '../report/format.js';
import { markdownReport } from '../report/tables.js';
import type { BoundComparison, EvalReport, WorkloadInfo } from '../report/types.js';
import type { ErrorSeries, PolicyChoice, RunOk, RunResult } from '../runner.js';
import { acrossHeads, summarize } from '../stats.js';
import { parseFlags } from './args.js';
import type { CliCommand, CliIO } from './command.js';

const LLM_OPTIONS = {
  model: { type: 'string' },
  text: { type: 'string' },
  policy: { type: 'string', multiple: true },
  budget: { type: 'string', multiple: true },
  bytes: { type: 'string' },
  offset: { type: 'string' },
  prefill: { type: 'string' },
  generate: { type: 'string' },
  prompt: { type: 'string' },
  temperature: { type: 'string' },
  seed: { type: 'string' },
  name: { type: 'string' },
  out: { type: 'string' },
  registry: { type: 'string' },
  quiet: { type: 'boolean' },
} as const;

/** One language-model row of a comparison, as written to `results.json` under `llm`. */
interface LlmRow {
  label: string;
  budget: string;
  ok: boolean;
  error?: string;
  bitsPerByte: number;
  referenceBitsPerByte: number;
  meanKl: number;
  maxKl: number;
  top1Agreement: number;
  cacheBytes: number;
  referenceCacheBytes: number;
}

function int(name: string, v: string | undefined, fallback: number, min: number): number {
  if (v === undefined) return fallback;
  const x = Number(v);
  if (!Number.isInteger(x) || x < min) throw new ConfigError(`--${name} is "${v}", expected an integer >= ${min}`);
  return x;
}

/**
 * Parses `--policy` values: a registered name, a comma list of names, or a JSON object
 * `{"policy": "h2o", "params": {...}, "label": "..."}`.
 * @param raw - The flag values.
 * @returns The choices (default: exact).
 */
function parsePolicies(raw: readonly string[] | undefined): PolicyChoice[] {
  if (!raw || raw.length === 0) return [{ policy: 'exact' }];
  const out: PolicyChoice[] = [];
  for (const r of raw) {
    const t = r.trim();
    if (t.startsWith('{')) {
      let o: unknown;
      try {
        o = JSON.parse(t);
      } catch (e) {
        throw new ConfigError(`--policy ${t} is not valid JSON: ${(e as Error).message}`);
      }
      if (typeof o !== 'object' || o === null || typeof (o as PolicyChoice).policy !== 'string') {
        throw new ConfigError(`--policy ${t} needs a "policy" name`);
      }
      out.push(o as PolicyChoice);
    } else {
      for (const name of t.split(',').map((x) => x.trim()).filter(Boolean)) out.push({ policy: name });
    }
  }
  return out;
}

// A fraction of the bytes seen is sized from a quarter of the text on (or from the end of the
// prefill), as the decode protocol does from its first query time.
function budgetContext(model: LlamaModel, n: number, prefill: number): BudgetContext {
  return { keyDim: model.config.headDim, valueDim: model.config.headDim, firstQuery: prefill > 0 ? prefill : Math.floor(n / 4) };
}

function label(p: PolicyChoice): string {
  return p.label ?? (p.params && Object.keys(p.params).length > 0 ? `${p.policy} ${JSON.stringify(p.params)}` : p.policy);
}

function thinSeries(steps: Int32Array, rel: Float64Array, norm: Float64Array): ErrorSeries {
  const thin = Math.max(1, Math.ceil(steps.length / 256));
  const series: ErrorSeries = { step: [], relative: [], normalized: [] };
  for (let i = 0; i < steps.length; i++) {
    if (i % thin !== 0 && i !== steps.length - 1) continue;
    series.step.push(steps[i]!);
    series.relative.push(rel[i]!);
    series.normalized.push(norm[i]!);
  }
  return series;
}

function metricsLines(m: TextMetrics): string[] {
  return [
    `bits/byte          ${m.bitsPerByte.toFixed(4)} (full cache ${m.referenceBitsPerByte.toFixed(4)}, Δ ${(m.bitsPerByte - m.referenceBitsPerByte).toFixed(4)})`,
    `KL vs full cache   mean ${fmt(m.meanKl)} nats, max ${fmt(m.maxKl)} nats over ${m.predictions} positions`,
    `top-1 agreement    ${(m.top1Agreement * 100).toFixed(2)}%`,
    `cache memory       ${fmtBytes(m.cacheBytes)} at the end (peak ${fmtBytes(m.peakCacheBytes)}; full cache ${fmtBytes(m.referenceCacheBytes)}), ${fmt(m.storedPerHead)} tokens per head`,
  ];
}

function llmTable(rows: readonly LlmRow[]): string {
  const lines = [
    '| policy | budget | bits/byte | Δ bits/byte | mean KL (nats) | max KL | top-1 agreement | cache |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of rows) {
    const cells = r.ok
      ? [r.bitsPerByte.toFixed(4), (r.bitsPerByte - r.referenceBitsPerByte).toFixed(4), fmt(r.meanKl), fmt(r.maxKl), `${(r.top1Agreement * 100).toFixed(2)}%`, fmtBytes(r.cacheBytes)]
      : [`error: ${r.error ?? ''}`, '', '', '', '', ''];
    lines.push(`| ${[r.label, r.budget, ...cells].map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`);
  }
  return lines.join('\n');
}

interface RunInput {
  model: LlamaModel;
  modelPath: string;
  textPath: string;
  text: Uint8Array;
  offset: number;
  registry: PolicyRegistry;
  policies: PolicyChoice[];
  budgets: BudgetChoice[];
  prefill: number;
  seed: number;
}

async function compare(input: RunInput, io: CliIO, options: { name: string; out: string; quiet: boolean }): Promise<number> {
  const { model, text, registry } = input;
  const started = performance.now();
  const reference = referenceRun(model, text);
  const c = model.config;
  const workloadName = `llm ${basename(input.modelPath)} · ${basename(input.textPath)}[${input.offset}:${input.offset + text.length}]`;
  const heads = c.nLayers * c.nKvHeads;
  const results: RunResult[] = [];
  const rows: LlmRow[] = [];
  let radius = 0;
  for (const policy of input.policies) {
    const budgets = registry.get(policy.policy).budget === 'none' ? [FULL_BUDGET] : input.budgets;
    for (const budget of budgets) {
      const budgetValue = resolveBudget(budget, budgetContext(model, text.length, input.prefill));
      const base = { index: results.length, policy: policy.policy, label: label(policy), params: policy.params ?? {}, budget: budget.label, budgetValue: budgetValue ?? null, workload: workloadName, seed: input.seed };
      try {
        const m = evaluateText(model, text, { policy: policy.policy, ...(policy.params ? { params: policy.params } : {}) }, {
          registry,
          reference,
          seed: input.seed,
          attentionErrors: true,
          ...(budgetValue !== undefined ? { budget: budgetValue } : {}),
          ...(input.prefill > 0 ? { prefill: input.prefill } : {}),
        });
        const a = m.attention!;
        radius = Math.max(radius, a.keyRadius);
        // @kv/llm pools the attention errors over layers, heads and positions: one pooled "head".
        const relative = summarize(a.relative);
        const normalized = summarize(a.normalized);
        const fullBytes = 4 * text.length * 2 * c.headDim * heads;
        const budgetBytes = budgetValue === undefined ? null : heads * coreBudgetBytes(budgetValue, text.length, c.headDim, c.headDim);
        const budgetRatio = budgetBytes === null ? null : m.cacheBytes / budgetBytes;
        results.push({
          ...base,
          ok: true,
          queries: a.relative.length,
          relative: acrossHeads([relative]),
          normalized: acrossHeads([normalized]),
          heads: [{ label: 'all (pooled)', queries: a.relative.length, relative, normalized, bytes: m.cacheBytes, budgetBytes, budgetRatio }],
          bytes: m.cacheBytes,
          peakBytes: m.peakCacheBytes,
          budgetBytes,
          budgetRatio,
          overBudget: isByteBudget(budgetValue) && budgetRatio! > 1,
          stored: m.storedPerHead * heads,
          compression: fullBytes / m.cacheBytes,
          appendNs: a.appendNs,
          attendNs: a.attendNs,
          series: thinSeries(a.steps, a.stepRelative, a.stepNormalized),
          chose: '',
        });
        rows.push({ label: base.label, budget: budget.label, ok: true, bitsPerByte: m.bitsPerByte, referenceBitsPerByte: m.referenceBitsPerByte, meanKl: m.meanKl, maxKl: m.maxKl, top1Agreement: m.top1Agreement, cacheBytes: m.cacheBytes, referenceCacheBytes: m.referenceCacheBytes });
      } catch (e) {
        const error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
        results.push({ ...base, ok: false, error });
        rows.push({ label: base.label, budget: budget.label, ok: false, error, bitsPerByte: NaN, referenceBitsPerByte: NaN, meanKl: NaN, maxKl: NaN, top1Agreement: NaN, cacheBytes: 0, referenceCacheBytes: reference.cacheBytes });
      }
    }
  }
  const tau = 1 / Math.sqrt(c.headDim);
  const workload: WorkloadInfo = {
    name: workloadName,
    family: 'llm',
    description: `queries, keys (post-RoPE) and values of ${basename(input.modelPath)} (${c.nLayers} layers × ${c.nKvHeads} KV heads) reading ${text.length} bytes of ${basename(input.textPath)}`,
    n: text.length,
    d: c.headDim,
    s: c.headDim,
    heads,
    radius,
    tau,
    rho: radius * radius * tau,
    hard: false,
  };
  const bounds: BoundComparison[] = results
    .filter((r): r is RunOk => r.ok)
    .filter((r) => r.normalized.p90 > 0 && Number.isFinite(r.normalized.p90) && radius > 0)
    .map((r) => ({
      workload: r.workload,
      label: r.label,
      budget: r.budget,
      seed: r.seed,
      epsilon: r.normalized.p90,
      measuredBytes: r.bytes / heads,
      bounds: spaceBounds({ n: workload.n, d: workload.d, s: workload.s, epsilon: r.normalized.p90, r: radius, tau }),
    }));
  const report: EvalReport & { llm: LlmRow[] } = {
    name: options.name,
    config: { name: options.name, policies: input.policies, budgets: input.budgets, workloads: [], seeds: [input.seed], queries: DEFAULT_QUERIES, workers: 1 },
    environment: { node: process.versions.node, platform: process.platform, cpus: availableParallelism(), workers: 1 },
    durationMs: performance.now() - started,
    families: policyFamilies(registry),
    workloads: [workload],
    results,
    bounds,
    llm: rows,
  };
  const files = await writeReport(report, options.out);
  const pareto = (w: string): string => plotFile('pareto', w);
  const section = [
    '',
    '## Inside the language model',
    '',
    `Next-byte predictions of ${basename(input.modelPath)} over ${text.length} bytes with each policy as every layer's KV cache, against the full-cache model (bits/byte ${reference.bitsPerToken.toFixed(4)}). KL(p_full ‖ p_policy) in nats; attention errors above are on the model's own stream (post-RoPE keys).`,
    '',
    llmTable(rows),
    '',
  ].join('\n');
  writeFileSync(files.markdown, markdownReport(report, pareto) + section);
  if (!options.quiet) io.stdout(markdownReport(report, pareto) + section);
  return reportOutcome(report, io, `${files.dir}/{results.md,results.json,results.csv,heads.csv,report.html} and ${files.plots.length} SVG plots`);
}

function modelAt(path: string): { path: string; dir: string } {
  const p = resolve(path);
  return { path: p, dir: existsSync(p) && statSync(p).isDirectory() ? p : dirname(p) };
}

/**
 * `kv-eval llm`: runs a real Llama model (llama2.c checkpoint or Hugging Face directory) with a
 * policy as every layer's KV cache and reports bits per byte, KL and top-1 agreement against the
 * full-cache model, cache memory and a generated sample; with several policies or budgets it
 * compares them and writes the same report files as `kv-eval run`.
 *
 * @example
 * ```sh
 * kv-eval llm --policy sliding-window --budget 1/4
 * kv-eval llm --model ../shared/models/tinyllama-bytes.bin --policy exact,sliding-window,h2o --budget 1/2,1/4,1/8
 * ```
 */
export const llmCommand: CliCommand = {
  name: 'llm',
  summary: 'Run a Llama model with a policy as its KV cache: bits/byte, KL and top-1 agreement vs the full cache, memory, a sample.',
  usage: [
    'kv-eval llm [--model PATH] [--text FILE] [--policy SPEC]... [--budget B]... [flags]',
    '  --model PATH       llama2.c .bin or Hugging Face Llama directory (default: $KV_MODEL, else the',
    '                     float16 copy in packages/llm/models, else ../shared/models)',
    '  --text FILE        UTF-8 text read as bytes (default: sample-validation.txt beside the model)',
    '  --policy SPEC      a registered name, a comma list, or JSON {"policy":..,"params":..,"label":..};',
    '                     repeatable (default exact)',
    '  --budget B         1/4, 25%, 0.25 (fractions of the text), 64 (tokens); repeatable (default 1/4)',
    '  --bytes N          context length in bytes (default 1024)   --offset N  first byte (default 0)',
    '  --prefill P        feed the first P bytes as one prefill (SnapKV-style compression)',
    '  --generate N       bytes to generate in single mode (default 200)   --prompt TEXT',
    '  --temperature T    0 = greedy (default)   --seed S (sampling and policy seed, default 0)',
    '  --name --out       comparison mode: output folder name and root (default kv-eval-results)',
    '  --registry MODULE  module exporting createRegistry()   --quiet',
    'One policy at one budget prints the metrics and a sample; several write results.md/.json/.csv,',
    'SVG plots and report.html, as kv-eval run does.',
  ].join('\n'),
  async run(args, io) {
    const { values } = parseFlags('llm', args, LLM_OPTIONS);
    const repoRoot = findRepoRoot();
    const found = values.model !== undefined ? modelAt(values.model) : findModel(repoRoot);
    if (!found) {
      io.stderr(`kv-eval llm: ${whereToPutAModel(repoRoot)}\n`);
      return 1;
    }
    let model: LlamaModel;
    try {
      model = await loadModel(found.path);
    } catch (e) {
      if ((e as { code?: string }).code === 'ENOENT') {
        io.stderr(`kv-eval llm: ${found.path} does not exist.\n${whereToPutAModel(repoRoot)}\n`);
        return 1;
      }
      throw e;
    }
    const textPath = values.text ?? resolve(found.dir, 'sample-validation.txt');
    let all: Uint8Array;
    try {
      all = new Uint8Array(readFileSync(textPath));
    } catch {
      throw new ConfigError(`cannot read the text ${textPath}; pass --text FILE`);
    }
    const offset = int('offset', values.offset, 0, 0);
    const n = int('bytes', values.bytes, 1024, 2);
    const text = all.subarray(offset, offset + n);
    if (text.length < 2) throw new ConfigError(`the text ${textPath} has ${text.length} bytes from offset ${offset}; at least 2 are needed`);
    const seed = int('seed', values.seed, 0, 0);
    const prefill = int('prefill', values.prefill, 0, 0);
    const registry = await loadRegistry(values.registry);
    // KVzip needs the model (its scores come from reconstruction passes), so it exists only here.
    if (values.registry === undefined) registry.register(kvzipPolicy);
    const policies = parsePolicies(values.policy);
    for (const p of policies) registry.get(p.policy);
    const budgets = (values.budget ?? ['1/4']).flatMap((b) => b.split(',')).map((b) => parseBudget(b.trim()));
    const runs = policies.reduce((a, p) => a + (registry.get(p.policy).budget === 'none' ? 1 : budgets.length), 0);
    const input: RunInput = { model, modelPath: found.path, textPath, text, offset, registry, policies, budgets, prefill, seed };
    if (runs > 1) {
      return compare(input, io, { name: values.name ?? 'llm', out: values.out ?? 'kv-eval-results', quiet: values.quiet === true });
    }
    const policy = policies[0]!;
    const budget = registry.get(policy.policy).budget === 'none' ? FULL_BUDGET : budgets[0]!;
    const budgetValue = resolveBudget(budget, budgetContext(model, text.length, prefill));
    const choice = { policy: policy.policy, ...(policy.params ? { params: policy.params } : {}) };
    const m = evaluateText(model, text, choice, {
      registry,
      seed,
      ...(budgetValue !== undefined ? { budget: budgetValue } : {}),
      ...(prefill > 0 ? { prefill } : {}),
    });
    const c = model.config;
    const lines = [
      `model   ${found.path} (dim ${c.dim}, ${c.nLayers} layers, ${c.nHeads} query / ${c.nKvHeads} KV heads of ${c.headDim}, vocab ${c.vocabSize})`,
      `text    ${textPath} bytes [${offset}, ${offset + text.length})`,
      `policy  ${label(policy)} at budget ${budget.label}${budgetValue !== undefined ? ` (${JSON.stringify(budgetValue)})` : ''}${prefill > 0 ? `, prefill ${prefill}` : ''}`,
      '',
      ...metricsLines(m),
    ];
    const genLength = int('generate', values.generate, 200, 0);
    if (genLength > 0) {
      const temperature = values.temperature !== undefined ? Number(values.temperature) : 0;
      if (!(temperature >= 0)) throw new ConfigError(`--temperature is "${values.temperature}", expected a number >= 0`);
      const prompt = values.prompt !== undefined ? new TextEncoder().encode(values.prompt) : text.subarray(0, Math.min(64, text.length));
      const g = generate(model, prompt, {
        maxTokens: genLength,
        temperature,
        seed,
        policy: choice,
        registry,
        ...(budgetValue !== undefined ? { budget: budgetValue } : {}),
      });
      const sample = new TextDecoder().decode(Uint8Array.from(g.tokens.filter((t) => t < 256)));
      lines.push('', `sample  (${temperature === 0 ? 'greedy' : `temperature ${temperature}, seed ${seed}`}, ${genLength} bytes after the prompt)`, `${new TextDecoder().decode(prompt)}⟨${sample}⟩`);
    }
    io.stdout(`${lines.join('\n')}\n`);
    return 0;
  },
};
