// `pnpm bench:compare`: kv vs numpy (attend), @kv/llm vs onnxruntime-node (decode), and append
// throughput, in one run (packages/llm/bench/compare/main.ts, on the sources).
import { spawnSync } from 'node:child_process';

const r = spawnSync(process.execPath, ['--expose-gc', '--conditions=@kv/source', '--import', 'tsx', 'packages/llm/bench/compare/main.ts'], { stdio: 'inherit' });
process.exit(r.status ?? 1);
