#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node --max-semi-space-size=4
// The `rxflume` command's entry. Its shebang sets what must be set before Node starts (issue #12's memory):
// - V8's young generation in 4 MB semi-spaces (Node 24 grows them to 16 MB and more): taildir → memory → null
//   over 1M lines peaked at 97 MB RSS at 8 MB instead of 115 MB, at the same CPU; StressSource → memory → HDFS
//   (1M events, batch 1000) at 95.6–96.3 MB against 101.5–101.6 at 8 (2 MB: no lower), 0–8% fewer MB/s.
// - glibc's malloc in 2 arenas, not one per thread that allocates (V8's workers, libuv's pool): that agent peaked
//   at 92.7–92.8 MB instead of 95.8–97.0 (1 arena: 90.3–91.2), the same events/s within noise. musl ignores it.
//   (`node <flags> …/cli.js` runs the command with other flags and the environment's MALLOC_ARENA_MAX: this line
//   is then a comment.)
// And before the command's modules load:
// - Node's on-disk compile cache (its temp dir; NODE_DISABLE_COMPILE_CACHE=1 turns it off): compiling rxjs, zod
//   and ours again at every start was a large part of start-to-first-event (issue #14). Looked up, not imported: an ES import of a built-in costs more.
process.getBuiltinModule('node:module').enableCompileCache?.();
await import('./command.js');
