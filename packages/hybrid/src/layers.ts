import type { PolicyChoice } from '@kv/core';

/**
 * A per-layer policy choice for `ModelCache`'s `policy` option (one choice per layer).
 *
 * @param choices - One choice per layer.
 * @returns A function of (layer, head) returning the layer's choice.
 * @example
 * ```ts
 * import { perLayer } from '@kv/hybrid';
 * const policy = perLayer([{ policy: 'exact' }, { policy: 'sliding-window', budget: 64 }]);
 * ```
 */
export function perLayer(choices: readonly PolicyChoice[]): (layer: number, head: number) => PolicyChoice {
  return (layer) => {
    const c = choices[layer];
    if (!c) throw new RangeError(`perLayer has ${choices.length} choices, no choice for layer ${layer}`);
    return c;
  };
}

/**
 * A per-(layer, head) policy choice for `ModelCache`'s `policy` option.
 *
 * @param choices - `choices[layer][head]`.
 * @returns A function of (layer, head) returning that choice.
 * @example
 * ```ts
 * import { perHead } from '@kv/hybrid';
 * const policy = perHead([[{ policy: 'exact' }, { policy: 'knorm', budget: 32 }]]);
 * ```
 */
export function perHead(choices: readonly (readonly PolicyChoice[])[]): (layer: number, head: number) => PolicyChoice {
  return (layer, head) => {
    const c = choices[layer]?.[head];
    if (!c) throw new RangeError(`perHead has no choice for layer ${layer}, head ${head}`);
    return c;
  };
}
