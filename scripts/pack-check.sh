#!/usr/bin/env bash
# "Install only what you need", tested: pack every package, install the @kv/core and
# @kv/heuristics tarballs alone into a scratch npm project, and use them from ESM and CommonJS.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/tarballs" "$work/app"
for pkg in "$root"/packages/*/; do
  (cd "$pkg" && pnpm pack --pack-destination "$work/tarballs" > /dev/null)
done
ls "$work/tarballs"
# pnpm pack rewrites workspace: ranges to real versions; a leftover one would not install from npm.
for t in "$work"/tarballs/*.tgz; do
  if tar -xzOf "$t" package/package.json | grep -q '"workspace:'; then echo "$(basename "$t"): package.json still has a workspace: range"; exit 1; fi
done
cd "$work/app"
npm init -y > /dev/null
npm install --no-audit --no-fund --loglevel=error "$work"/tarballs/kv-core-*.tgz "$work"/tarballs/kv-heuristics-*.tgz
installed=$(ls node_modules/@kv)
echo "installed: $installed"
[ "$installed" = "$(printf 'core\nheuristics')" ] || { echo "expected only @kv/core and @kv/heuristics"; exit 1; }
cat > use.mjs <<'JS'
import { PolicyRegistry, exactPolicy } from '@kv/core';
import { heuristicPolicies } from '@kv/heuristics';
const registry = new PolicyRegistry().register(exactPolicy, ...heuristicPolicies);
const cache = registry.create({ policy: 'sliding-window', keyDim: 4, valueDim: 4, budget: 8 });
for (let t = 0; t < 20; t++) cache.append(new Float32Array([t % 3, 1, 0, 0]), new Float32Array([t, 0, 0, 1]));
const out = cache.attend(new Float32Array([1, 0, 0, 0]), new Float32Array(4));
if (cache.stored !== 8 || !(out[3] > 0.99)) throw new Error('ESM: unexpected result');
console.log('ESM import ok:', cache.stored, 'of', cache.seen, 'tokens kept');
JS
cat > use.cjs <<'JS'
const { PolicyRegistry, exactPolicy, isKvError } = require('@kv/core');
const { heuristicPolicies } = require('@kv/heuristics');
const { conformanceChecks } = require('@kv/core/testing');
const registry = new PolicyRegistry().register(exactPolicy, ...heuristicPolicies);
const cache = registry.create({ policy: 'sliding-window', keyDim: 4, valueDim: 4, budget: 8 });
try { cache.append(new Float32Array(3), new Float32Array(4)); } catch (e) { if (!isKvError(e, 'KV_DIMENSION_MISMATCH')) throw e; }
cache.append(new Float32Array(4), new Float32Array(4));
const checks = conformanceChecks({ registry, spec: { policy: 'sliding-window', keyDim: 8, valueDim: 8, budget: 16 } });
for (const c of checks) c.run();
console.log('CommonJS require ok:', cache.seen, 'token;', checks.length, 'conformance checks passed from @kv/core/testing');
JS
node use.mjs
node use.cjs
