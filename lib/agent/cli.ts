#!/usr/bin/env node
// The `rxflume` command's entry. Node's on-disk compile cache (its temp dir; NODE_DISABLE_COMPILE_CACHE=1
// turns it off) is enabled before the command's modules load: compiling rxjs, zod and ours again at every
// start was a large part of start-to-first-event (issue #14). Looked up, not imported: an ES import of a
// built-in costs more than the lookup.
process.getBuiltinModule('node:module').enableCompileCache?.();
await import('./command.js');
