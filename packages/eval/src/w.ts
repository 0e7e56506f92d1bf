import { parentPort } from 'node:worker_threads';
import { exactPolicy } from '@kv/core';
const x: number = 3;
parentPort!.postMessage({ x, name: exactPolicy.name });
