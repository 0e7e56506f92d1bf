import { InvalidParamsError, type PolicyChoice, UnsupportedError } from '@kv/core';

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

// Registered policies of the kv packages by what their choices read. A policy not listed here is
// refused unless the caller declares its kind; a wrong declaration of a weighted or summary policy
// is still caught when its rows are read (see rows.ts).
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
  kivi: 'summary',
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
  summary: 'it keeps no key/value rows in float32 (moments, sketches, features or codes of its own layout), so there is no past to hand the model',
};

/**
 * The kind of a policy choice: tiered caches are as query-aware as their middle part and the
 * caller's declarations override the built-in table.
 * @param choice - The policy choice.
 * @param declared - The caller's declarations.
 * @returns The kind, or undefined for a policy neither known nor declared.
 */
export function policyKind(choice: PolicyChoice, declared: Readonly<Record<string, PolicyKind>> = {}): PolicyKind | undefined {
  const own = declared[choice.policy] ?? KNOWN[choice.policy];
  if (own !== undefined || choice.policy !== 'tiered') return own;
  const middle = choice.params?.['middle'];
  if (middle === undefined) return 'query-free';
  if (typeof middle !== 'object' || middle === null || typeof (middle as PolicyChoice).policy !== 'string') {
    throw new InvalidParamsError('tiered: params.middle is not a policy choice');
  }
  return policyKind(middle as PolicyChoice, declared);
}

/**
 * Checks that a policy can drive a compressed past, and says whether it needs query proxies.
 * @param choice - The policy choice of one head.
 * @param declared - The caller's declarations of custom policies.
 * @param queryProxy - Whether the caller accepted key proxies for query-aware policies.
 * @returns True when the policy is query-aware (and the proxy is on).
 * @throws `UnsupportedError` saying why a policy cannot run, or that an unknown one must be declared.
 */
export function checkPolicy(choice: PolicyChoice, declared: Readonly<Record<string, PolicyKind>>, queryProxy: boolean): boolean {
  const kind = policyKind(choice, declared);
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
