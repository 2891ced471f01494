// Moved to operators/channels/fileChannel.ts: this re-export keeps lib/index.ts, lib/agent/components.ts
// and bench/channels.ts building until they import it there; then this folder goes.
export * from '../fileChannel.js';
