#!/usr/bin/env node
// The kv-eval executable: everything lives in main() so it can be tested without a process.
import { main } from './cli.js';

void main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
