/**
 * The taildir source against Apache Flume 1.11.0's (issue #13): one properties text — a taildir source
 * with three file groups (a regex over a folder, a literal file name, a regex that a rotated name still
 * matches), `headers.<group>.<key>`, `fileHeader`/`fileHeaderKey`, `byteOffsetHeader` and a short
 * `idleTimeout` — into file_roll with header_and_text, run by a real Flume agent and by the rxflume CLI
 * at once over identical files: empty lines, CRLF and a lone CR, invalid UTF-8, multi-byte characters,
 * an empty file, a last line without a newline (sent when the file goes idle), a file appended after
 * start, a file renamed away and one renamed to a name that still matches. The events (headers
 * included) and the position file's JSON must match after a normalisation: the input folder's path
 * (one per side) becomes `<in>`, events are compared as a multiset (files are read in no set order),
 * inodes are compared as numbers only. Skipped when java/mvn are missing, unless RXFLUME_REQUIRE_FLUME=1.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendFileSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { scratch, type CliResult } from '../support/cli.js';
import { flumeEnv } from '../support/flume.js';
import { FLUME_TAILDIR_JAR, flumeJarPath, withFlumeJars } from '../support/flumeJars.js';
import { rolledHeaderAndText, rolledUntil, runSideBySide, type HeaderAndText, type Side } from '../support/sideBySide.js';

const env = withFlumeJars(flumeEnv(), FLUME_TAILDIR_JAR);
/** rxflume's default maxLineLength (bytes); Flume has no limit. */
const LIMIT = 1_048_576;
const bytes = (...b: number[]): Buffer => Buffer.from(b);

/** Files present before the agents start: folder-relative path → content. */
const initial: Array<[string, string | Buffer]> = [
  ['a/lines.log', 'one\n\n\ntwo\n'],
  ['a/crlf.log', 'c1\r\nc2\rstill c2\r\n\r\nc3\n'],
  ['a/bytes.log', Buffer.concat([Buffer.from('bad '), bytes(0xff, 0xfe), Buffer.from(' x\ncut '), bytes(0xe2, 0x82), Buffer.from('\néü€😀\n')])],
  ['a/empty.log', ''],
  ['a/nonl.log', 'p1\npartial'],
  ['a/skipped.txt', 'not matched\n'],
  ['b/app.log', 'b1\nb2\n'],
  ['c/cur.log', 'r1\nr2\n'],
];
/** A line at rxflume's limit and one a byte over it, whose last character straddles the limit. */
const long = `${'x'.repeat(LIMIT)}\n${'y'.repeat(LIMIT - 1)}é\n`;

const conf = (inDir: string, positionFile: string) => (out: string): string => `
a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = TAILDIR
a1.sources.r1.channels = c1
a1.sources.r1.positionFile = ${positionFile}
a1.sources.r1.filegroups = ga gb gc gl
a1.sources.r1.filegroups.ga = ${inDir}/a/.*\\.log
a1.sources.r1.filegroups.gb = ${inDir}/b/app.log
a1.sources.r1.filegroups.gc = ${inDir}/c/cur.*
a1.sources.r1.filegroups.gl = ${inDir}/l/long.log
a1.sources.r1.headers.ga.kind = regex
a1.sources.r1.headers.ga.team = A
a1.sources.r1.headers.gb.kind = literal
a1.sources.r1.fileHeader = true
a1.sources.r1.fileHeaderKey = path
a1.sources.r1.byteOffsetHeader = true
a1.sources.r1.idleTimeout = 2000
a1.sources.r1.writePosInterval = 500
a1.channels.c1.type = memory
a1.channels.c1.capacity = 1000
a1.sinks.k1.type = file_roll
a1.sinks.k1.channel = c1
a1.sinks.k1.sink.directory = ${out}
a1.sinks.k1.sink.rollInterval = 0
a1.sinks.k1.sink.serializer = header_and_text
`;

interface Run {
  events: HeaderAndText[];
  /** The position file's entries, the input folder's path as `<in>`. */
  positions: Array<Record<string, unknown>>;
}

/** One side's input folder: the initial files written, the position file's path. */
function prepare(base: string): { inDir: string; positionFile: string } {
  const inDir = join(base, 'in');
  for (const sub of ['a', 'b', 'c', 'l']) mkdirSync(join(inDir, sub), { recursive: true });
  for (const [path, content] of initial) writeFileSync(join(inDir, path), content);
  writeFileSync(join(inDir, 'l/long.log'), long);
  return { inDir, positionFile: join(base, 'taildir_position.json') };
}

const until = (out: string, bodies: string[]) => rolledUntil(out, bodies, { encoding: 'latin1' });

/** Each stage waits until that side's agent wrote what it needs, then changes the files. */
async function feed(out: string, inDir: string): Promise<HeaderAndText[]> {
  await until(out, ['two', 'c3', 'p1', 'partial', 'b2', 'r2']);
  // Appended after start: a new line, and the rest of the partial line already sent on idle.
  appendFileSync(join(inDir, 'b/app.log'), 'b3\n');
  appendFileSync(join(inDir, 'a/nonl.log'), '-rest\n');
  appendFileSync(join(inDir, 'c/cur.log'), 'r3\n');
  await until(out, ['b3', '-rest', 'r3']);
  // Rotation: renamed away from the group's name, and renamed to a name the group still matches.
  renameSync(join(inDir, 'b/app.log'), join(inDir, 'b/app.log.1'));
  writeFileSync(join(inDir, 'b/app.log'), 'n1\n');
  renameSync(join(inDir, 'c/cur.log'), join(inDir, 'c/cur.log.1'));
  writeFileSync(join(inDir, 'c/cur.log'), 'm1\n');
  await until(out, ['n1', 'm1']);
  // Then until nothing more comes for 3 s (Flume re-reads a renamed file in the turn that finds the new one).
  return rolledHeaderAndText(out, { encoding: 'latin1', settleMs: 3000, timeoutMs: 30_000 });
}

const normalise = (inDir: string) => (e: HeaderAndText): string =>
  JSON.stringify({ ...Object.fromEntries(Object.entries(e.headers).sort().map(([k, v]) => [k, v.split(inDir).join('<in>')])), body: e.body });

describe.skipIf(env.skip)(`taildir source vs Apache Flume 1.11.0${env.note}`, () => {
  const work = scratch('rxflume-taildir-interop-');
  const sides = { flume: prepare(join(work.dir, 'flume')), rxflume: prepare(join(work.dir, 'rxflume')) };
  let flume: Run;
  let ours: Run;
  let cli: CliResult | undefined;

  beforeAll(async () => {
    const run = await runSideBySide({
      work,
      flumeClasspath: [await flumeJarPath(FLUME_TAILDIR_JAR)],
      conf: (out, side: Side) => conf(sides[side].inDir, sides[side].positionFile)(out),
      collect: (out, side: Side) => feed(out, sides[side].inDir),
      timeoutMs: 120_000,
    });
    cli = run.cli;
    // The position file as each agent left it once stopped.
    const positions = (side: Side): Run['positions'] =>
      (JSON.parse(readFileSync(sides[side].positionFile, 'utf8')) as Array<Record<string, unknown>>).map((p) => ({
        ...p,
        file: String(p['file']).split(sides[side].inDir).join('<in>'),
      }));
    flume = { events: run.flume, positions: positions('flume') };
    ours = { events: run.rxflume, positions: positions('rxflume') };
  }, 240_000);

  afterAll(() => work.cleanup());

  const events = (run: Run, side: Side) => run.events.map(normalise(sides[side].inDir));
  // The two known differences are compared apart, below.
  const withoutLong = (list: string[]) => list.filter((e) => !e.includes('/l/long.log') && !e.includes('/c/cur.log.1')).sort();
  const bodies = (run: Run, file: string) => run.events.filter((e) => e.headers['path']?.endsWith(file)).map((e) => e.body);

  it('Flume read every file of the groups (regex, literal, rotated)', () => {
    expect(cli?.stderr ?? '').not.toMatch(/"level":50/);
    expect(bodies(flume, '/a/lines.log')).toEqual(['one', '', '', 'two']);
    expect(bodies(flume, '/a/crlf.log')).toEqual(['c1', 'c2\rstill c2', '', 'c3']);
    expect(bodies(flume, '/a/nonl.log')).toEqual(['p1', 'partial', '-rest']);
    expect(bodies(flume, '/b/app.log')).toEqual(['b1', 'b2', 'b3', 'n1']);
    expect(flume.events.filter((e) => e.headers['path']?.includes('/a/skipped'))).toEqual([]);
  });

  it('rxflume gives the same events, headers and byte offsets as Flume (the long lines aside)', () => {
    expect(withoutLong(events(flume, 'flume')).length).toBeGreaterThan(20);
    expect(withoutLong(events(ours, 'rxflume'))).toEqual(withoutLong(events(flume, 'flume')));
  });

  it('DIFFERS: a line over 1 MiB is one event in Flume, pieces of maxLineLength bytes in rxflume', () => {
    const long = (run: Run) => run.events.filter((e) => e.headers['path']?.endsWith('/l/long.log')).map((e) => [e.headers['byteoffset'], e.body.length]);
    // Latin-1 read: é is two chars, as it is two bytes.
    expect(long(flume)).toEqual([['0', LIMIT], [String(LIMIT + 1), LIMIT + 1]]);
    expect(long(ours)).toEqual([['0', LIMIT], [String(LIMIT + 1), LIMIT], [String(2 * LIMIT + 1), 1]]);
  });

  it('DIFFERS: a file renamed to a name its group still matches is read again from 0 by Flume, continued by rxflume', () => {
    expect(bodies(flume, '/c/cur.log.1')).toEqual(['r1', 'r2', 'r3']);
    expect(bodies(ours, '/c/cur.log.1')).toEqual([]);
    // Neither lost nor repeated a line under the old name or the new file.
    expect(bodies(ours, '/c/cur.log')).toEqual(['r1', 'r2', 'r3', 'm1']);
  });

  it("the position file has Flume's shape: [{inode, pos, file}] for the same files and positions", () => {
    const shape = (run: Run) =>
      run.positions.map((p) => ({ keys: Object.keys(p), inode: typeof p['inode'], pos: p['pos'], file: p['file'] })).sort((x, y) => String(x.file).localeCompare(String(y.file)) || Number(x.pos) - Number(y.pos));
    expect(flume.positions.length).toBeGreaterThan(0);
    expect(shape(ours)).toEqual(shape(flume));
  });
});
