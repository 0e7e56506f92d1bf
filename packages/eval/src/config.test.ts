import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FULL_BUDGET, parseBudget, resolveBudget } from './budgets.js';
import { expandJobs, folderName, readConfigFile, resolveConfig } from './config.js';
import { ConfigError, TraceFormatError } from './errors.js';
import type { TraceWorkloadSpec } from './workloads/types.js';
import { buildWorkload } from './workloads/build.js';
import { syntheticWorkload } from './workloads/synthetic.js';
import { writeNpyTrace, writeSafetensorsTrace } from './workloads/traces.js';
import { createRegistry, testWindowPolicy } from './test-fixtures/policies.js';

const registry = createRegistry();
const dir = mkdtempSync(join(tmpdir(), 'kv-eval-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('budgets', () => {
  it('parses fractions of the float32 bytes, byte sizes, token counts and ratios', () => {
    expect(parseBudget('1/4')).toEqual({ kind: 'fraction', value: 0.25, label: '1/4' });
    expect(parseBudget('12.5%')).toEqual({ kind: 'fraction', value: 0.125, label: '12.5%' });
    expect(parseBudget(0.5)).toMatchObject({ kind: 'fraction', value: 0.5 });
    expect(parseBudget({ fraction: 0.125 })).toMatchObject({ kind: 'fraction', value: 0.125 });
    expect(parseBudget('64 KiB')).toEqual({ kind: 'bytes', value: 65536, label: '64.0 KiB' });
    expect(parseBudget('4096B')).toMatchObject({ kind: 'bytes', value: 4096 });
    expect(parseBudget('1.5 MB')).toMatchObject({ kind: 'bytes', value: 1_500_000 });
    expect(parseBudget({ bytes: 1000 })).toEqual({ kind: 'bytes', value: 1000, label: '1000 B' });
    expect(parseBudget(64)).toMatchObject({ kind: 'tokens', value: 64 });
    expect(parseBudget('64')).toMatchObject({ kind: 'tokens', value: 64 });
    expect(parseBudget({ tokens: 8 })).toMatchObject({ kind: 'tokens', value: 8 });
    expect(parseBudget({ ratio: 0.25 })).toMatchObject({ kind: 'ratio', value: 0.25 });
    for (const bad of ['5/4', 'x', '1/0', 0, -3, 1.5, {}, null, [0.25], { ratio: 2 }, { bytes: 0.5 }, { bytes: 10, tokens: 2 }, { fraction: 0 }, '0 KiB']) {
      expect(() => parseBudget(bad)).toThrow(ConfigError);
    }
  });
  it('resolves a fraction to core\'s {fraction} floored at the first query time, bytes to {bytes}', () => {
    const ctx = { keyDim: 64, valueDim: 32, firstQuery: 256 };
    expect(resolveBudget(parseBudget('1/8'), ctx)).toEqual({ fraction: 0.125, minBytes: 0.125 * 4 * 96 * 256 });
    expect(resolveBudget(parseBudget('3 KiB'), ctx)).toEqual({ bytes: 3072 });
    expect(resolveBudget(parseBudget(64), ctx)).toBe(64);
    expect(resolveBudget(parseBudget({ ratio: 0.5 }), ctx)).toEqual({ ratio: 0.5 });
    expect(resolveBudget(FULL_BUDGET, ctx)).toBeUndefined();
  });
});

describe('precision × selection sweep', () => {
  // A definition that declares a precision parameter (only the config expansion is tested here;
  // the codecs are core's).
  const quantized = { ...testWindowPolicy, name: 'test-quantized', params: [{ name: 'precision', type: 'object' as const, description: 'codec' }] };
  const reg = createRegistry().register(quantized);

  it('runs each policy that takes a precision once per precision, labelled by it; the others once', () => {
    const c = resolveConfig({ policies: ['exact', { policy: 'test-quantized', label: 'q' }], precision: ['f32', 'int4', { keys: 'int4', values: 'int8', rotate: true }] }, reg);
    expect(c.policies.map((p) => p.label ?? p.policy)).toEqual(['exact', 'q f32', 'q int4', 'q k:int4/v:int8 rot']);
    expect(c.policies[3]!.params).toEqual({ precision: { keys: 'int4', values: 'int8', rotate: true } });
  });

  it('rejects precisions of the wrong shape, and a sweep no policy can take', () => {
    expect(() => resolveConfig({ policies: ['test-quantized'], precision: 'int4' as never }, reg)).toThrow(/^precision is "int4", expected a non-empty list/);
    for (const [bad, message] of [
      ['int5', /^precision\[0\].*"int5"/],
      [{ keys: 'int4', bits: 3 }, /^precision\[0\]: precision has no field "bits"/],
      [{ group: 0 }, /^precision\[0\]: precision.group is 0/],
    ] as const) {
      expect(() => resolveConfig({ policies: ['test-quantized'], precision: [bad] as never }, reg)).toThrow(ConfigError);
      expect(() => resolveConfig({ policies: ['test-quantized'], precision: [bad] as never }, reg)).toThrow(message);
    }
    expect(() => resolveConfig({ policies: ['exact'], precision: ['f32', 'int4'] }, reg)).toThrow(/none of the policies \(exact\) takes a precision parameter/);
  });
});

describe('config', () => {
  it('fills defaults, expands "all" and runs budget-less policies once', () => {
    const c = resolveConfig({ workloads: ['gaussian', { family: 'index', n: 64 }], seeds: [1, 2] }, registry);
    expect(c.policies.map((p) => p.policy)).toEqual(['exact', 'test-uniform', 'test-window']);
    expect(c.budgets.map((b) => b.label)).toEqual(['1/4', '1/8']);
    const jobs = expandJobs(c, registry);
    // 2 workloads × 2 seeds × (exact once + 2 policies × 2 budgets)
    expect(jobs.length).toBe(2 * 2 * 5);
    expect(jobs.map((j) => j.index)).toEqual(jobs.map((_, i) => i));
    expect(jobs.filter((j) => j.policy.policy === 'exact').every((j) => j.budget.kind === 'full')).toBe(true);
  });

  it('applies per-policy default params to policies listed without params', () => {
    const c = resolveConfig({ policies: ['exact', { policy: 'test-window', params: {} }, 'test-uniform'], params: { 'test-window': { a: 1 }, 'test-uniform': { b: 2 } } }, registry);
    expect(c.policies.map((p) => p.params)).toEqual([undefined, {}, { b: 2 }]);
    expect(() => resolveConfig({ params: { h2o: {} } }, registry)).toThrow(/not registered/);
  });

  it('rejects unknown keys, policies, families, duplicate labels and bad seeds', () => {
    expect(() => resolveConfig({ polices: 'all' } as never, registry)).toThrow(/unknown config key "polices"/);
    expect(() => resolveConfig({ policies: ['h2o'] }, registry)).toThrow(/not registered/);
    expect(() => resolveConfig({ workloads: ['nope'] }, registry)).toThrow(ConfigError);
    expect(() => resolveConfig({ workloads: [{ family: 'npy' } as never] }, registry)).toThrow(/needs a path/);
    expect(() => resolveConfig({ policies: ['exact', 'exact'] }, registry)).toThrow(/labelled/);
    expect(() => resolveConfig({ seeds: [0.5] }, registry)).toThrow(ConfigError);
    expect(() => resolveConfig({ budgets: ['2/1'] }, registry)).toThrow(/budgets\[0\]/);
    expect(() => resolveConfig({ exclude: ['exact', 'test-uniform', 'test-window'] }, registry)).toThrow(/no policy/);
  });

  it('names the field and the expected shape for every field of the wrong shape', () => {
    const bad: [unknown, RegExp][] = [
      [{ budgets: '1/4' }, /^budgets is "1\/4", expected a non-empty list of budgets/],
      [{ budgets: [] }, /^budgets is empty/],
      [{ exclude: 'exact' }, /^exclude is "exact", expected a list of policy names/],
      [{ exclude: ['nope'] }, /exclude names "nope", which is not registered/],
      [{ policies: 'exact' }, /^policies is "exact", expected "all" or a non-empty list/],
      [{ policies: [{ policy: 'exact', parms: {} }] }, /policies\[0\] has no field "parms"/],
      [{ policies: [{ policy: 'exact', params: 3 }] }, /policies\[0\].params is 3, expected a mapping/],
      [{ policies: [{ policy: 'exact', label: '' }] }, /policies\[0\].label is "", expected a non-empty string/],
      [{ params: [] }, /^params is \[\], expected a mapping/],
      [{ params: { exact: 'x' } }, /params.exact is "x", expected a mapping/],
      [{ workloads: 'gaussian' }, /^workloads is "gaussian", expected a non-empty list/],
      [{ workloads: [{ family: 'gaussian', n: '512' }] }, /workloads\[0\].n is "512", expected an integer >= 1/],
      [{ workloads: [{ family: 'gaussian', size: 4 }] }, /workloads\[0\] \(gaussian\) has no field "size"; its fields are name, n, d, s, rho, r, params/],
      [{ workloads: [{ family: 'gaussian', rho: 1, r: 2 }] }, /gives both rho and r/],
      [{ workloads: [{ family: 'gaussian', params: { clusters: 'x' } }] }, /workloads\[0\].params is .*expected a mapping of family knobs to numbers/],
      [{ workloads: [{ family: 'npy', path: 3 }] }, /workloads\[0\].path is 3, expected a path/],
      [{ workloads: [{ family: 'model', layers: [-1] }] }, /workloads\[0\].layers is \[-1\], expected a non-empty list of layer indices/],
      [{ workloads: [{ family: 'model', heads: 1 }] }, /workloads\[0\].heads is 1, expected a non-empty list/],
      [{ seeds: 0 }, /^seeds is 0, expected a non-empty list of integers/],
      [{ seeds: [1, 'a'] }, /^seeds is \[1,"a"\]/],
      [{ queries: 4 }, /^queries is 4, expected \{from\?, every\?\}/],
      [{ queries: { every: 0 } }, /queries.every is 0, expected an integer >= 1 or "a\/b"/],
      [{ queries: { from: '3/2' } }, /queries.from is "3\/2"/],
      [{ queries: { start: 1 } }, /queries has no field "start"/],
      [{ queryStride: 1 }, /queryStride was replaced by queries: \{from, every\}/],
      [{ workers: 0 }, /workers is 0, expected "auto" or an integer >= 1/],
      [{ name: 3 }, /name is 3, expected a non-empty string/],
    ];
    for (const [config, message] of bad) {
      let caught: unknown;
      try {
        resolveConfig(config as never, registry);
      } catch (e) {
        caught = e;
      }
      expect(caught, JSON.stringify(config)).toBeInstanceOf(ConfigError);
      expect((caught as Error).message, JSON.stringify(config)).toMatch(message);
    }
    expect(resolveConfig({ queries: { from: 0, every: '1/64' } }, registry).queries).toEqual({ from: 0, every: '1/64' });
  });

  it('reads YAML and JSON files', () => {
    const y = join(dir, 'c.yaml');
    writeFileSync(y, 'name: My Run\npolicies: [exact, {policy: test-window, label: window}]\nbudgets: ["1/4", 32]\nworkloads:\n  - family: clustered\n    n: 64\n');
    const c = resolveConfig(readConfigFile(y), registry);
    expect(c.policies[1]).toEqual({ policy: 'test-window', label: 'window' });
    expect(c.budgets.map((b) => b.kind)).toEqual(['fraction', 'tokens']);
    expect(folderName(c.name)).toBe('my-run');
    const j = join(dir, 'c.json');
    writeFileSync(j, JSON.stringify({ workloads: ['rope'] }));
    expect(readConfigFile(j).workloads).toEqual(['rope']);
    writeFileSync(j, '[1]');
    expect(() => readConfigFile(j)).toThrow(ConfigError);
    expect(() => readConfigFile(join(dir, 'missing.json'))).toThrow(ConfigError);
  });

  it('resolves trace paths in a config file against its folder, and leaves code configs as given', () => {
    // A folder name that cannot exist in the current directory, so a cwd-relative lookup fails.
    const project = mkdtempSync(join(dir, 'project-'));
    const traceName = `trace-${basename(project)}`;
    const stream = syntheticWorkload({ family: 'gaussian', n: 12, d: 4, s: 4 }, 0).heads[0]!;
    writeNpyTrace(join(project, 'traces', traceName), [{ layer: 0, head: 0, stream }]);
    writeSafetensorsTrace(join(project, 'one.safetensors'), [{ layer: 0, head: 0, stream }]);
    mkdirSync(join(project, 'configs'));
    const y = join(project, 'configs', 'eval.yaml');
    writeFileSync(
      y,
      `workloads:\n  - {family: npy, path: ../traces/${traceName}}\n  - {family: safetensors, path: ../one.safetensors}\n  - {family: npy, path: ${join(project, 'traces', traceName)}}\n  - gaussian\n`,
    );
    const fromFile = resolveConfig(readConfigFile(y), registry).workloads as TraceWorkloadSpec[];
    expect(fromFile.slice(0, 3).map((w) => w.path)).toEqual([join(project, 'traces', traceName), join(project, 'one.safetensors'), join(project, 'traces', traceName)]);
    expect(fromFile[3]).toEqual({ family: 'gaussian' });
    const loaded = buildWorkload(fromFile[0]!, 0);
    expect(loaded.name).toBe(traceName);
    expect(loaded.heads[0]!.keys).toEqual(stream.keys);
    expect(buildWorkload(fromFile[1]!, 0).name).toBe('one');
    // The same file read from elsewhere (a relative config path) gives the same trace paths.
    expect((readConfigFile(relative(process.cwd(), y)).workloads as TraceWorkloadSpec[])[0]!.path).toBe(fromFile[0]!.path);
    const j = join(project, 'configs', 'eval.json');
    writeFileSync(j, JSON.stringify({ workloads: [{ family: 'safetensors', path: '../one.safetensors' }] }));
    expect((readConfigFile(j).workloads as TraceWorkloadSpec[])[0]!.path).toBe(join(project, 'one.safetensors'));

    // Programmatic configs keep their paths, which Node reads against the current directory.
    const inCode = resolveConfig({ workloads: [{ family: 'npy', path: `traces/${traceName}` }] }, registry).workloads[0] as TraceWorkloadSpec;
    expect(inCode.path).toBe(`traces/${traceName}`);
    expect(() => buildWorkload(inCode, 0)).toThrow(TraceFormatError);
  });

  it('leaves malformed trace entries of a config file for resolveConfig to reject', () => {
    const y = join(dir, 'bad-trace.yaml');
    writeFileSync(y, 'workloads:\n  - {family: npy}\n');
    expect(() => resolveConfig(readConfigFile(y), registry)).toThrow(/needs a path/);
  });
});
