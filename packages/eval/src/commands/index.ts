// The kv-eval command table: one export per command. Adding a line here registers a command.
export { boundsCommand } from './bounds.js';
export { demoCommand } from './demo.js';
export { listCommand } from './list.js';
export { llmCommand } from './llm.js';
export { runCommand } from './run.js';
