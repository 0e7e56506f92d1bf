import { loadRegistry } from '../job-context.js';
import { syntheticFamilies } from '../workloads/synthetic.js';
import { parseFlags } from './args.js';
import type { CliCommand } from './command.js';

/**
 * `kv-eval list`: the registered policies with their budget kind and parameters, and the workload families.
 *
 * @example
 * ```sh
 * kv-eval list
 * kv-eval list --json
 * ```
 */
export const listCommand: CliCommand = {
  name: 'list',
  summary: 'List registered policies with their parameters, and the workload families.',
  usage: 'kv-eval list [--json] [--registry <module exporting createRegistry()>]',
  async run(args, io) {
    const { values } = parseFlags('list', args, { json: { type: 'boolean' }, registry: { type: 'string' } });
    const registry = await loadRegistry(values.registry);
    const policies = registry.list();
    if (values.json) {
      io.stdout(`${JSON.stringify({ policies: policies.map(({ name, summary, budget, params }) => ({ name, summary, budget, params })), workloads: syntheticFamilies }, null, 2)}\n`);
      return 0;
    }
    const lines = ['# Policies', ''];
    for (const p of policies) {
      lines.push(`- **${p.name}** (budget: ${p.budget}): ${p.summary}`);
      for (const param of p.params) {
        const def = param.default === undefined ? '' : ` = ${JSON.stringify(param.default)}`;
        lines.push(`  - \`${param.name}\`: ${param.type}${def}: ${param.description}`);
      }
    }
    lines.push('', '# Workload families', '');
    for (const [name, description] of Object.entries(syntheticFamilies)) lines.push(`- **${name}**: ${description}`);
    lines.push(
      '- **model**: the attention of a Llama model (default: the tiny model in the repository) reading a text, generated on the fly',
      '- **npy**: {family: npy, path: <folder with manifest.json>}',
      '- **safetensors**: {family: safetensors, path: <file>}',
      '',
    );
    io.stdout(lines.join('\n'));
    return 0;
  },
};
