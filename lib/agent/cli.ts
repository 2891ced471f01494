#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node --max-semi-space-size=8
// The `rxflume` command's entry. Its shebang sets what must be set before Node starts (issue #12's memory):
// - V8's young generation in 8 MB semi-spaces (Node 24 grows them to 16 MB and more): taildir → memory → null
//   over 1M lines peaked at 97 MB RSS instead of 115 MB, at the same CPU. Not 4: StressSource → memory → HDFS
//   DataStream at batch 1000 peaked 6 MB lower there, but SequenceFile at batch 100 (Flume's default batch)
//   24 MB higher (132 vs 108 MB: records that outlive a smaller young generation fill the old one).
// - glibc's malloc in 2 arenas, not one per thread that allocates (V8's workers, libuv's pool): that agent peaked
//   at 92.7–92.8 MB instead of 95.8–97.0 (1 arena: 90.3–91.2), the same events/s within noise. musl ignores it.
//   (`node <flags> …/cli.js` runs the command with other flags and the environment's MALLOC_ARENA_MAX: this line
//   is then a comment.)
// And before the command's modules load:
// - Node's on-disk compile cache (its temp dir; NODE_DISABLE_COMPILE_CACHE=1 turns it off): compiling rxjs, zod
//   and ours again at every start was a large part of start-to-first-event (issue #14). Looked up, not
//   imported: an ES import of a built-in costs more.
process.getBuiltinModule('node:module').enableCompileCache?.();
await import('./command.js');
