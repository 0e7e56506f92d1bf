import fc from 'fast-check';

// Fixed seed so CI is reproducible; override with FC_SEED=<n> to explore, and fast-check prints
// the seed and path of any failure so it can be replayed.
fc.configureGlobal({ seed: Number(process.env.FC_SEED ?? 20261122), numRuns: Number(process.env.FC_RUNS ?? 100) });
