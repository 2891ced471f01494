#!/usr/bin/env -S node --max-semi-space-size=8
// The `rxflume` command's entry.
// - V8's young generation in 8 MB semi-spaces (Node 24 grows them to 16 MB and more): taildir → memory → null
//   over 1M lines peaked at 97 MB RSS instead of 115 MB, at the same CPU. V8 reads the flag only at start, so
//   it is here; `node <flags> …/cli.js` runs the command with other flags (this line is then a comment).
// - Node's on-disk compile cache (its temp dir; NODE_DISABLE_COMPILE_CACHE=1 turns it off), enabled before the
//   command's modules load: compiling rxjs, zod and ours again at every start was a large part of
//   start-to-first-event (issue #14). Looked up, not imported: an ES import of a built-in costs more.
process.getBuiltinModule('node:module').enableCompileCache?.();
await import('./command.js');
