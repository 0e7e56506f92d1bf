import { InvalidParamsError, type PolicyChoice, type PolicyRegistryLike, type PolicyTraits, UnsupportedError } from '@kv/core';

/**
 * What a policy's decisions need, which decides whether an ONNX decoder can run it:
 * - `query-free`: only keys, values and positions (window, StreamingLLM, K-norm, KeyDiff, LagKV,
 *   leverage, CUR, random);
 *   runs exactly as in kv's own decoder.
 * - `query-aware`: attention of queries (H2O, TOVA, SnapKV, PyramidKV, Expected Attention); a graph does not expose
 *   queries, so it runs only with a query proxy (see {@link SessionOptions.queryProxy}).
 * - `weighted`: kept rows carry weights that bias their logits (coresets, importance samples,
 *   BalanceKV); a 0/1 attention mask cannot express them.
 * - `summary`: keeps no rows (moments, sketches, random features); there is nothing to hand the
 *   model as a past.
 *
 * @example
 * ```ts
 * import type { PolicyKind } from '@kv/transformers';
 * const kinds: Record<string, PolicyKind> = { 'my-recent-window': 'query-free' };
 * ```
 */
export type PolicyKind = 'query-free' | 'query-aware' | 'weighted' | 'summary';

// Registered policies of the kv packages by what their choices read, for definitions that do not
// declare their `traits` yet (a definition's traits win over this table). A policy neither here
// nor declared is refused unless the caller declares its kind; a summary declared as anything else
// is still caught when its rows are read (see rows.ts). Quantized rows (KIVI, any `precision`) are
// handed to the model decoded, so their kind is that of their selection.
const KNOWN: Readonly<Record<string, PolicyKind>> = {
  exact: 'query-free',
  'sliding-window': 'query-free',
  'streaming-llm': 'query-free',
  knorm: 'query-free',
  keydiff: 'query-free',
  random: 'query-free',
  lagkv: 'query-free',
  leverage: 'query-free',
  cur: 'query-free',
  h2o: 'query-aware',
  tova: 'query-aware',
  snapkv: 'query-aware',
  pyramidkv: 'query-aware',
  'expected-attention': 'query-aware',
  uniform: 'weighted',
  balancekv: 'weighted',
  'balancekv-theory': 'weighted',
  subgen: 'weighted',
  'hybrid-taylor-coreset': 'weighted',
  'hybrid-cells': 'weighted',
  'lsh-heavy': 'weighted',
  'lsh-multirate': 'weighted',
  auto: 'weighted',
  kivi: 'query-free',
  taylor: 'summary',
  multipole: 'summary',
  performer: 'summary',
  'tensor-four-cache': 'summary',
  'tensor-two-cache': 'summary',
  'tensor-taylor': 'summary',
};

const WHY: Readonly<Record<Exclude<PolicyKind, 'query-free'>, string>> = {
  'query-aware':
    'it scores tokens by the attention of queries, and an ONNX decoder exposes only keys, values and positions; pass queryProxy: "key" to drive it with each new token\'s key as its query (a proxy: its choices then differ from the same policy in @kv/llm)',
  weighted:
    'its kept rows carry weights that enter attention as logit biases (a row of weight w counts as w·exp(q·k)); a transformers.js decoder takes a 0/1 attention_mask, which can keep or drop a row but not weight it',
  summary: 'it answers from a summary (moments, sketches, features) rather than from rows it keeps, so there is no past to hand the model',
};

/**
 * The kind a policy's declared traits imply.
 * @param traits - The traits of a policy definition.
 * @returns Its kind.
 */
export function kindOfTraits(traits: PolicyTraits): PolicyKind {
  if (traits.summary) return 'summary';
  if (traits.weighted) return 'weighted';
  return traits.inputs === 'queries' ? 'query-aware' : 'query-free';
}

// The traits a registry's definition of the policy declares, if it has them.
function definedKind(name: string, registry: PolicyRegistryLike | undefined): PolicyKind | undefined {
  if (registry?.get === undefined || !registry.has(name)) return undefined;
  const traits = registry.get(name).traits;
  return traits ? kindOfTraits(traits) : undefined;
}

/**
 * The kind of a policy choice: the caller's declarations first, then the traits the registry's
 * definition declares, then the built-in table; tiered caches are as query-aware as their middle.
 * @param choice - The policy choice.
 * @param declared - The caller's declarations.
 * @param registry - The registry the caches come from (its definitions' traits).
 * @returns The kind, or undefined for a policy neither known nor declared.
 */
export function policyKind(choice: PolicyChoice, declared: Readonly<Record<string, PolicyKind>> = {}, registry?: PolicyRegistryLike): PolicyKind | undefined {
  const own = declared[choice.policy] ?? definedKind(choice.policy, registry) ?? KNOWN[choice.policy];
  if (own !== undefined || choice.policy !== 'tiered') return own;
  const middle = choice.params?.['middle'];
  if (middle === undefined) return 'query-free';
  if (typeof middle !== 'object' || middle === null || typeof (middle as PolicyChoice).policy !== 'string') {
    throw new InvalidParamsError('tiered: params.middle is not a policy choice');
  }
  return policyKind(middle as PolicyChoice, declared, registry);
}

/**
 * Checks that a policy can drive a compressed past, and says whether it needs query proxies.
 * @param choice - The policy choice of one head.
 * @param declared - The caller's declarations of custom policies.
 * @param queryProxy - Whether the caller accepted key proxies for query-aware policies.
 * @param registry - The registry the caches come from (its definitions' traits).
 * @returns True when the policy is query-aware (and the proxy is on).
 * @throws `UnsupportedError` saying why a policy cannot run, or that an unknown one must be declared.
 */
export function checkPolicy(choice: PolicyChoice, declared: Readonly<Record<string, PolicyKind>>, queryProxy: boolean, registry?: PolicyRegistryLike): boolean {
  const kind = policyKind(choice, declared, registry);
  if (kind === undefined) {
    throw new UnsupportedError(
      `policy "${choice.policy}" is not known to @kv/transformers; if its choices need only keys, values and positions, declare it with kinds: { "${choice.policy}": "query-free" }`,
    );
  }
  if (choice.params?.['pool'] !== undefined) {
    throw new UnsupportedError(
      `policy "${choice.policy}" shares one budget among the heads of a layer (params.pool, AdaKV), so its heads keep different numbers of rows; a layer's past is one tensor [batch, kvHeads, rows, headDim] under one attention mask, which needs the same rows in every head`,
    );
  }
  if (kind === 'query-free') return false;
  if (kind === 'query-aware' && queryProxy) return true;
  throw new UnsupportedError(`policy "${choice.policy}" cannot drive a transformers.js past: ${WHY[kind]}`);
}
