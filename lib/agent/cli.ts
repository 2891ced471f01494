#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node --max-semi-space-size=2 --heap-growing-percent=30
// The `rxflume` command's entry. Its shebang sets what must be set before Node starts (issue #12's memory):
// - V8's young generation in 2 MB semi-spaces (Node 24 grows them to 16 MB and more), with the old
//   generation let grow by 30% of what survived its last full GC (V8's own conservative factor; by default it
//   may grow up to 4× on a machine with this much memory). Each alone fails: smaller semi-spaces promote more
//   medium-lived batches, and an old generation left to grow keeps them (StressSource → memory → HDFS
//   SequenceFile at batch 100, Flume's default: 108 MB at 8 MB semi-spaces, 132 at 4). Together all four
//   bench:hdfs cases peaked at 91–94 MB (8 MB alone: 97–109), 11–15× Flume's events/s, ~15% more CPU. Not 3 or 4
//   MB: there SequenceFile/100 stayed at 97–98 MB (½ of Flume's is ~96). The cost is CPU on the fastest paths, more
//   scavenges: taildir → file → null 33% fewer events/s than at 8 MB alone (4 MB: none), http → memory → null
//   21% fewer, a memoryChannel holding 1M events (~700 MB, bench:backlog) 14% fewer. `node …/cli.js` runs with
//   Node's defaults, `node --max-semi-space-size=4 --heap-growing-percent=30 …/cli.js` with the fast middle.
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
