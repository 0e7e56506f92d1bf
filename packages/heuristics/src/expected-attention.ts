import {
  type CacheState,
  choiceParam,
  floorBytes,
  integerParam,
  InvalidParamsError,
  type PolicyDefinition,
  type PolicySpec,
  type StateReader,
} from '@kv/core';
import { EvictionCache } from './eviction/eviction-cache.js';
import { evictionParams } from './eviction/params.js';
import type { Scorer, ScoreView } from './eviction/scorer.js';

/**
 * The rotary embedding the model applied to the queries and keys it hands the cache, so that
 * Expected Attention can undo it on the queries and rotate their statistics to future positions.
 *
 * @example
 * ```ts
 * import type { RopeSpec } from '@kv/heuristics';
 * const llama2c: RopeSpec = { theta: 10000, pairing: 'interleaved' }; // pairs (0,1), (2,3), …
 * const hf: RopeSpec = { theta: 500000, pairing: 'half' }; // pairs (i, i + d/2), rotate_half
 * ```
 */
export interface RopeSpec {
  /** Base θ: pair i turns by position · θ^(−2i/d). */
  readonly theta: number;
  /** Which coordinates form a pair: `(2i, 2i+1)` or `(i, i + d/2)`. */
  readonly pairing: 'interleaved' | 'half';
}

/**
 * Covariance kept of the queries: full (d² floats), its diagonal (d floats; its 2×2 rotary
 * blocks once rotated), or none (the mean only).
 *
 * @example
 * ```ts
 * import type { QueryCovariance } from '@kv/heuristics';
 * const cheap: QueryCovariance = 'diagonal';
 * ```
 */
export type QueryCovariance = 'full' | 'diagonal' | 'none';

/**
 * Options of {@link expectedAttentionScorer}.
 *
 * @example
 * ```ts
 * import type { ExpectedAttentionOptions } from '@kv/heuristics';
 * const o: ExpectedAttentionOptions = { horizon: 64, future: 4, covariance: 'diagonal', valueNorm: true, rope: null };
 * ```
 */
export interface ExpectedAttentionOptions {
  /** Queries the statistics average over (an exponential moving average of this horizon). */
  readonly horizon: number;
  /** Future positions the rotation is averaged over (with `rope`). */
  readonly future: number;
  /** Covariance kept. */
  readonly covariance: QueryCovariance;
  /** Whether scores are multiplied by ‖v‖₂. */
  readonly valueNorm: boolean;
  /** The model's rotary embedding, or null when the statistics are kept on the rotated queries. */
  readonly rope: RopeSpec | null;
}

/**
 * Expected Attention's score: the attention the next queries are expected to pay, from the mean
 * μ and covariance Σ of recent queries: softmax_i(τ·μ·k_i + ½τ²·k_iᵀΣk_i)·‖v_i‖. For Gaussian
 * queries, exp(τ·μ·k + ½τ²·kᵀΣk) is exactly E[exp(τ·q·k)] (the moment generating function), so
 * the score is the expected unnormalised attention weight, normalised over the kept tokens.
 *
 * @remarks
 * Keys reach the cache after RoPE, and so do queries. With `rope`, each query is rotated back by
 * its own position (pre-RoPE statistics, which are stationary), and at scoring time the mean and
 * covariance are rotated by the average rotation R̄ over the next `future` positions
 * (μ' = R̄μ, Σ' = R̄ΣR̄ᵀ, as kvpress): the post-RoPE keys are then scored as they are, since
 * q_{t+j}·k_i = (R(t+j)q̃)·k_i. Without `rope`, the statistics of the recent post-RoPE queries
 * stand for the next ones: their fast-turning pairs average out over the horizon as they would
 * over future positions, and the slow ones barely turn. Statistics are exponential moving
 * averages over `horizon` queries (held as Float32 state: 4·d bytes for the mean, 4·d or 4·d² for
 * the covariance).
 *
 * @param keyDim - Key dimension d.
 * @param valueDim - Value dimension s.
 * @param options - Statistics and rotation.
 * @returns A computed scorer that reads every answered query.
 * @example
 * ```ts
 * import { expectedAttentionScorer } from '@kv/heuristics';
 * const scorer = expectedAttentionScorer(64, 64, { horizon: 64, future: 4, covariance: 'diagonal', valueNorm: true, rope: { theta: 10000, pairing: 'interleaved' } });
 * ```
 * @see Devoto et al., Expected Attention: KV-cache Compression by Estimating Attention from Future Queries Distribution (arXiv 2510.00636).
 */
export function expectedAttentionScorer(keyDim: number, valueDim: number, options: ExpectedAttentionOptions): Scorer {
  const { horizon, future, covariance, valueNorm, rope } = options;
  let d = 0;
  let count = 0;
  // Held as Float32 (the state); updates are computed in double.
  let mean = new Float32Array(0);
  let cov = new Float32Array(0);
  // Scratch: the de-rotated query, the rotated statistics, a key row.
  let q = new Float64Array(0);
  let mu = new Float64Array(0);
  let sigma = new Float64Array(0);
  let row = new Float64Array(0);
  let invFreq = new Float64Array(0);
  const covLength = (dim: number): number => (covariance === 'full' ? dim * dim : covariance === 'diagonal' ? dim : 0);
  // The statistics are held from activation on (when the budget can afford them).
  let active = false;
  const activate = (): void => {
    active = true;
    mean = new Float32Array(d);
    cov = new Float32Array(covLength(d));
  };
  const size = (dim: number): void => {
    if (d === dim) return;
    d = dim;
    q = new Float64Array(d);
    mu = new Float64Array(d);
    sigma = new Float64Array(covariance === 'full' ? d * d : covariance === 'diagonal' ? 2 * d : 0);
    row = new Float64Array(d);
    invFreq = new Float64Array(d >> 1);
    if (rope) for (let i = 0; i < d >> 1; i++) invFreq[i] = rope.theta ** ((-2 * i) / d);
  };
  // Index of the two coordinates of rotary pair i.
  // Sized at creation, so that fixedBytes() is right before the first query.
  size(keyDim);
  const valueRow = new Float64Array(valueDim);
  const first = (i: number): number => (rope?.pairing === 'half' ? i : 2 * i);
  const second = (i: number): number => (rope?.pairing === 'half' ? i + (d >> 1) : 2 * i + 1);
  const stateBytes = (): number => 4 * (mean.length + cov.length);

  const observe = (_view: ScoreView, query: Float32Array, _probs: Float64Array | null, position: number): void => {
    if (!active) return;
    for (let j = 0; j < d; j++) q[j] = query[j]!;
    if (rope) {
      for (let i = 0; i < d >> 1; i++) {
        const a = -position * invFreq[i]!;
        const c = Math.cos(a);
        const s = Math.sin(a);
        const x = q[first(i)]!;
        const y = q[second(i)]!;
        q[first(i)] = x * c - y * s;
        q[second(i)] = x * s + y * c;
      }
    }
    count++;
    const w = 1 / Math.min(count, horizon);
    // Welford-style moving moments: covariance from (q − old mean)(q − new mean).
    for (let j = 0; j < d; j++) {
      const before = q[j]! - mean[j]!;
      mean[j] += w * before;
      row[j] = before;
    }
    if (covariance === 'diagonal') {
      for (let j = 0; j < d; j++) cov[j] += w * (row[j]! * (q[j]! - mean[j]!) - cov[j]!);
    } else if (covariance === 'full') {
      for (let a = 0; a < d; a++) {
        const da = row[a]!;
        for (let b = 0; b < d; b++) cov[a * d + b] += w * (da * (q[b]! - mean[b]!) - cov[a * d + b]!);
      }
    }
  };

  // μ' = R̄μ and Σ' = R̄ΣR̄ᵀ for the next `future` positions (the identity without rope). For a
  // diagonal Σ, sigma holds per pair its 2×2 block [xx, xy; xy, yy] as (xx, yy) at the pair's
  // coordinates and xy at d + pair.
  const rotateStatistics = (seen: number): void => {
    if (!rope) {
      mu.set(mean);
      if (covariance === 'diagonal') {
        sigma.fill(0);
        sigma.set(cov);
      } else if (covariance === 'full') sigma.set(cov);
      return;
    }
    const half = d >> 1;
    const cBar = row; // reused as scratch: c̄ in [0, half), s̄ in [half, d)
    for (let i = 0; i < half; i++) {
      // Mean of cos/sin(ω·p) over p = seen … seen + future − 1, in closed form.
      const om = invFreq[i]!;
      let c = 0;
      let s = 0;
      const h = Math.sin((future * om) / 2);
      const den = Math.sin(om / 2);
      if (Math.abs(den) < 1e-12) {
        c = Math.cos(om * seen);
        s = Math.sin(om * seen);
      } else {
        const mid = om * (seen + (future - 1) / 2);
        const f = h / (future * den);
        c = f * Math.cos(mid);
        s = f * Math.sin(mid);
      }
      cBar[i] = c;
      cBar[half + i] = s;
      const x = mean[first(i)]!;
      const y = mean[second(i)]!;
      mu[first(i)] = c * x - s * y;
      mu[second(i)] = s * x + c * y;
    }
    if (covariance === 'diagonal') {
      for (let i = 0; i < half; i++) {
        const c = cBar[i]!;
        const s = cBar[half + i]!;
        const a = cov[first(i)]!;
        const b = cov[second(i)]!;
        sigma[first(i)] = c * c * a + s * s * b;
        sigma[second(i)] = s * s * a + c * c * b;
        sigma[d + i] = c * s * (a - b);
      }
    } else if (covariance === 'full') {
      // Σ' = R̄ΣR̄ᵀ with R̄ block-diagonal: rows, then columns, pair by pair.
      sigma.set(cov);
      for (let pass = 0; pass < 2; pass++) {
        for (let i = 0; i < half; i++) {
          const c = cBar[i]!;
          const s = cBar[half + i]!;
          const u = first(i);
          const v = second(i);
          for (let k = 0; k < d; k++) {
            const iu = pass === 0 ? u * d + k : k * d + u;
            const iv = pass === 0 ? v * d + k : k * d + v;
            const x = sigma[iu]!;
            const y = sigma[iv]!;
            sigma[iu] = c * x - s * y;
            sigma[iv] = s * x + c * y;
          }
        }
      }
    }
  };

  return {
    name: 'expected attention',
    columns: 0,
    probs: false,
    queries: true,
    live: false,
    nonNegative: true,
    fixedBytes: stateBytes,
    deferredBytes: () => 4 * (d + covLength(d)),
    activate,
    observe,
    score(view, out) {
      const n = view.count;
      if (!active) {
        // No statistics yet: the oldest goes first.
        for (let i = 0; i < n; i++) out[i] = view.store.positionOf[i]!;
        return out;
      }
      const s = view.valueDim;
      const tau = view.tau;
      const store = view.store;
      rotateStatistics(view.seen);
      let m = -Infinity;
      for (let i = 0; i < n; i++) {
        let l = tau * store.keyDot(i, mu);
        if (covariance !== 'none') {
          store.readKey(i, row);
          let quad = 0;
          if (covariance === 'diagonal') {
            for (let j = 0; j < d; j++) quad += sigma[j]! * row[j]! * row[j]!;
            if (rope) for (let p = 0; p < d >> 1; p++) quad += 2 * sigma[d + p]! * row[first(p)]! * row[second(p)]!;
          } else {
            for (let a = 0; a < d; a++) {
              let acc = 0;
              for (let b = 0; b < d; b++) acc += sigma[a * d + b]! * row[b]!;
              quad += row[a]! * acc;
            }
          }
          l += 0.5 * tau * tau * quad;
        }
        out[i] = l;
        if (l > m) m = l;
      }
      let z = 0;
      for (let i = 0; i < n; i++) z += Math.exp(out[i]! - m);
      for (let i = 0; i < n; i++) {
        let w = Math.exp(out[i]! - m) / z;
        if (valueNorm) {
          store.readValue(i, valueRow);
          let v2 = 0;
          for (let j = 0; j < s; j++) v2 += valueRow[j]! * valueRow[j]!;
          w *= Math.sqrt(v2);
        }
        out[i] = w;
      }
      return out;
    },
    save(): CacheState {
      return { scalars: { queries: count, active }, arrays: { mean, covariance: cov } };
    },
    load(r: StateReader) {
      const on = r.boolean('active');
      const queries = r.integer('queries', 0, Number.MAX_SAFE_INTEGER);
      const m = r.array('mean', Float32Array, on ? d : 0);
      const c = r.array('covariance', Float32Array, on ? covLength(d) : 0);
      if (on) activate();
      mean.set(m);
      cov.set(c);
      count = queries;
    },
    reset() {
      count = 0;
      active = false;
      mean = new Float32Array(0);
      cov = new Float32Array(0);
    },
    describe: () => ({ covariance, horizon, future, rope: rope ? `${rope.pairing} θ=${rope.theta}` : 'none', queries: count, statistics: active }),
  };
}

/** Future positions the rotation is averaged over by default (see {@link ExpectedAttention}). */
const EA_FUTURE = 4;

function parseRope(raw: unknown): RopeSpec | null {
  if (raw === undefined || raw === null) return null;
  const r = raw as Record<string, unknown>;
  if (typeof raw !== 'object' || !(typeof r['theta'] === 'number' && r['theta'] > 0) || !(r['pairing'] === 'interleaved' || r['pairing'] === 'half')) {
    throw new InvalidParamsError(`parameter "rope" is ${JSON.stringify(raw)}, expected { theta: number > 0, pairing: 'interleaved' | 'half' }`);
  }
  return { theta: r['theta'], pairing: r['pairing'] };
}

/**
 * Expected Attention: keeps the tokens future queries are expected to attend to, estimated from
 * the mean and covariance of the recent queries (rotated to the next positions when the model's
 * RoPE is given), weighted by the value norm; usable at decode time, since every answered query
 * updates the statistics.
 *
 * @remarks
 * See {@link expectedAttentionScorer} for the score and for what "rotated" means for the
 * post-RoPE keys and queries a cache receives. Defaults follow kvpress (4 sinks, value-norm
 * weighting) with a diagonal covariance (the full d² one costs 4·d² bytes; it is used when the
 * budget's floor holds at least twice that, else the cache falls back to the diagonal and
 * `describe()` says so) and statistics over the last 64 queries. Prefill observation queries
 * seed the statistics. No approximation guarantee.
 *
 * The rotation is averaged over the next `future` = 4 positions, not kvpress's 64 (or 512):
 * averaging RoPE over F positions scales pair i by sin(F·ω_i/2)/(F·sin(ω_i/2)), which erases
 * every pair that turns more than 2π/F per position: at F = 64 the 8 fastest of 32 pairs (θ = 10⁴,
 * d = 64), the ones that carry relative position. On a model whose attention is local, those
 * pairs are what tells a recent token from an old one, so a cache that evicts at every step with
 * them averaged away evicts the tokens its next queries need. Measured (tiny model, held-out
 * traces, texts 1–3, median error at 1/8 and 1/16): future 64: 0.107 / 0.454; 16: 0.086 / 0.216;
 * 4: 0.084 / 0.181 (sliding window 0.091 / 0.212); held out, text 0: 0.140 / 0.577 at 64,
 * 0.122 / 0.245 at 4 (window 0.149 / 0.256); inside the model (bits/byte loss, stream
 * protocol of `@kv/llm`'s end-to-end bench): 5.18% / 18.9% at 64, 1.19% / 3.34% at 4
 * (StreamingLLM 0.93% / 5.54%). Averaging exp(·) over the future positions instead of the
 * rotation (the exact expectation of the mixture) recovers only part of it at 64 (0.094 / 0.261)
 * and equals the rotation average at 4.
 * Defining behaviour (tested): a token aligned with the mean query outlives equal-norm tokens
 * orthogonal to it, and with a covariance, a token along the queries' high-variance direction
 * outlives one along a low-variance direction at the same mean logit.
 *
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { expectedAttentionPolicy } from '@kv/heuristics';
 * const cache = new PolicyRegistry().register(expectedAttentionPolicy).create({
 *   policy: 'expected-attention', keyDim: 64, valueDim: 64, budget: { fraction: 1 / 8 },
 *   params: { rope: { theta: 10000, pairing: 'interleaved' }, recent: 16 },
 * });
 * ```
 * @see Devoto et al., Expected Attention (arXiv 2510.00636); kvpress `ExpectedAttentionPress`.
 */
export class ExpectedAttention extends EvictionCache {
  /** The covariance actually kept (after a fallback for a small budget). */
  readonly covariance: QueryCovariance;

  /**
   * @param spec - A validated spec with a budget; params `horizon` (64), `future` (4),
   *   `covariance` (`'diagonal'`), `valueNorm` (true), `rope` (none), and the shared eviction
   *   parameters (4 sinks by default).
   * @throws `InvalidParamsError` on a bad parameter.
   */
  constructor(spec: PolicySpec) {
    const p = spec.params;
    const asked = choiceParam(p, 'covariance', ['full', 'diagonal', 'none'] as const, 'diagonal');
    const d = spec.keyDim;
    const floor = floorBytes(spec.budget, d, spec.valueDim);
    const covariance: QueryCovariance = asked === 'full' && floor < 2 * 4 * d * d ? 'diagonal' : asked;
    const options: ExpectedAttentionOptions = {
      horizon: integerParam(p, 'horizon', { default: 64, min: 1 }),
      future: integerParam(p, 'future', { default: EA_FUTURE, min: 1 }),
      covariance,
      valueNorm: p?.['valueNorm'] === undefined ? true : p['valueNorm'] === true,
      rope: parseRope(p?.['rope']),
    };
    if (p?.['valueNorm'] !== undefined && typeof p['valueNorm'] !== 'boolean') {
      throw new InvalidParamsError(`parameter "valueNorm" is ${JSON.stringify(p['valueNorm'])}, expected a boolean`);
    }
    if (options.rope && d % 2 !== 0) throw new InvalidParamsError(`rope needs an even key dimension, got ${d}`);
    super(spec, expectedAttentionScorer(d, spec.valueDim, options), { sinks: 4 });
    this.covariance = covariance;
  }
}

/**
 * Registry entry of {@link ExpectedAttention} (`"expected-attention"`).
 *
 * @example
 * ```ts
 * import { PolicyRegistry } from '@kv/core';
 * import { expectedAttentionPolicy } from '@kv/heuristics';
 * new PolicyRegistry().register(expectedAttentionPolicy);
 * ```
 */
export const expectedAttentionPolicy: PolicyDefinition = {
  name: 'expected-attention',
  summary: 'Keeps the tokens future queries are expected to attend to (mean and covariance of recent queries, RoPE-rotated).',
  params: [
    { name: 'horizon', type: 'integer', default: 64, description: 'Recent queries the statistics average over (moving average).' },
    { name: 'future', type: 'integer', default: EA_FUTURE, description: 'Future positions the RoPE rotation is averaged over (kvpress: 64; larger erases the fast pairs).' },
    { name: 'covariance', type: 'string', default: 'diagonal', description: "Query covariance kept: 'full', 'diagonal' or 'none'." },
    { name: 'valueNorm', type: 'boolean', default: true, description: 'Multiply scores by the value norm.' },
    { name: 'rope', type: 'object', description: "The model's RoPE { theta, pairing: 'interleaved' | 'half' }; absent: statistics of the rotated queries." },
    ...evictionParams({ sinks: 4 }),
  ],
  budget: 'required',
  create: (spec) => new ExpectedAttention(spec),
};
