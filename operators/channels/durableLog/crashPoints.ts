/**
 * Deterministic `kill -9` points for the crash tests: when the environment variable
 * RXFLUME_FILECHANNEL_CRASH_AT names a point (e.g. `checkpoint-tmp-written`), the process SIGKILLs
 * itself there, so a test can prove recovery from a crash at exactly that moment. Read once; when
 * unset it costs one comparison.
 */
const crashAt = process.env['RXFLUME_FILECHANNEL_CRASH_AT'];

export type CrashPoint =
  /** Half of the new checkpoint written to its temporary file. */
  | 'checkpoint-half-written'
  /** The new checkpoint written and synced, not yet renamed into place. */
  | 'checkpoint-tmp-written'
  /** The checkpoint renamed into place, segments not yet deleted. */
  | 'checkpoint-renamed'
  /** One emptied segment deleted, others still to go. */
  | 'segment-deleted'
  /** Out of space: emptied segments freed without a checkpoint, none written since. */
  | 'segments-freed';

export function crashPoint(point: CrashPoint): void {
  if (crashAt === point) process.kill(process.pid, 'SIGKILL');
}
