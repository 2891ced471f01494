/**
 * The HTTP source against a real Apache Flume 1.11.0 agent: the same requests are POSTed to Flume's
 * http source (JSONHandler, BLOBHandler) and to rxflume's httpSource; per request the status code and
 * the stored events (headers and body) must be the same. Flume's stored events are read back through
 * its avro sink into an rxflume avroSource (the JSON and BLOB sources), or from a file_roll sink with
 * the header_and_text serializer (requests with null header values, which Avro cannot carry).
 * Skipped when java/mvn are missing, unless RXFLUME_REQUIRE_FLUME=1.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'node:http';
import type { Subscription } from 'rxjs';
import type { FlumeEvent } from '../../lib/core/event.js';
import { avroSource } from '../../lib/sources/avroSource.js';
import { httpSource } from '../../lib/sources/http/httpSource.js';
import { memoryChannel } from '../../operators/channels/memoryChannel.js';
import { flumeEnv, freePort, startFlumeAgent, type FlumeAgent } from '../support/flume.js';
import { listening, recordingSink, waitFor, type RecordingSink } from '../support/net.js';

const env = flumeEnv();

interface Probe {
  name: string;
  handler: 'JSON' | 'BLOB' | 'BLOB0';
  body: string | Buffer;
  contentType?: string;
  /** Query string for the request path. */
  query?: string;
  method?: 'POST' | 'GET';
}

/** UTF-32BE of text pieces and raw code points (which may be no character). */
function utf32be(...parts: (string | number)[]): Buffer {
  const points = parts.flatMap((p) => (typeof p === 'number' ? [p] : Array.from(p, (ch) => ch.codePointAt(0)!)));
  const out = Buffer.alloc(points.length * 4);
  points.forEach((cp, i) => out.writeUInt32BE(cp, i * 4));
  return out;
}

const J = 'application/json';
const PROBES: Probe[] = [
  { name: 'valid JSON', handler: 'JSON', body: '[{"headers":{"a":"1","b":"x"},"body":"hello"},{"body":"two"}]' },
  { name: 'single-quoted strings', handler: 'JSON', body: "[{'headers':{'a':'1'},'body':'single'}]" },
  { name: 'unquoted names and values', handler: 'JSON', body: '[{headers:{a:one},body:bare}]' },
  { name: 'number as body', handler: 'JSON', body: '[{"body":42}]' },
  { name: 'decimal number as body', handler: 'JSON', body: '[{"body":1.50e3}]' },
  { name: 'boolean as body', handler: 'JSON', body: '[{"body":true}]' },
  { name: 'null as body', handler: 'JSON', body: '[{"headers":{"a":"1"},"body":null}]' },
  { name: 'object as body', handler: 'JSON', body: '[{"body":{"x":1}}]' },
  { name: 'array as body', handler: 'JSON', body: '[{"body":["x"]}]' },
  { name: 'number and boolean header values', handler: 'JSON', body: '[{"headers":{"n":7,"t":false},"body":"b"}]' },
  { name: 'object header value', handler: 'JSON', body: '[{"headers":{"o":{"x":1}},"body":"b"}]' },
  { name: 'duplicate header name', handler: 'JSON', body: '[{"headers":{"a":"1","a":"2"},"body":"b"}]' },
  { name: 'duplicate body', handler: 'JSON', body: '[{"body":"first","body":"second"}]' },
  { name: 'unknown members', handler: 'JSON', body: '[{"x":[1,{"y":2}],"body":"b","z":null}]' },
  { name: 'top-level object', handler: 'JSON', body: '{"headers":{},"body":"x"}' },
  { name: 'top-level string', handler: 'JSON', body: '"x"' },
  { name: 'top-level null', handler: 'JSON', body: 'null' },
  { name: 'top-level number', handler: 'JSON', body: '5' },
  { name: 'empty array', handler: 'JSON', body: '[]' },
  { name: 'null element', handler: 'JSON', body: '[null]' },
  { name: 'number element', handler: 'JSON', body: '[1]' },
  { name: 'null element, then a malformed one', handler: 'JSON', body: '[null,[]]' },
  { name: 'trailing comma in array', handler: 'JSON', body: '[{"body":"a"},]' },
  { name: 'trailing comma in object', handler: 'JSON', body: '[{"body":"a",}]' },
  { name: 'double comma in array', handler: 'JSON', body: '[{"body":"a"},,{"body":"b"}]' },
  { name: 'semicolons and =', handler: 'JSON', body: '[{"headers"={"a"=>"1"};"body"="x"}]' },
  { name: 'line comment', handler: 'JSON', body: '[ // events\n{"body":"c"}]' },
  { name: 'block comment', handler: 'JSON', body: '[/* e */{"body":"c"}]' },
  { name: 'hash comment', handler: 'JSON', body: '[# events\n{"body":"c"}]' },
  { name: 'non-execute prefix', handler: 'JSON', body: ")]}'\n[{\"body\":\"p\"}]" },
  { name: 'content after the array', handler: 'JSON', body: '[{"body":"a"}] [{"body":"b"}]' },
  { name: 'garbage after the array', handler: 'JSON', body: '[{"body":"a"}]x' },
  { name: 'unterminated array', handler: 'JSON', body: '[{"body":"a"}' },
  { name: 'unterminated string', handler: 'JSON', body: '[{"body":"a' },
  { name: 'empty body', handler: 'JSON', body: '' },
  { name: 'whitespace body', handler: 'JSON', body: '  \n' },
  { name: 'unquoted value with spaces', handler: 'JSON', body: '[{body:hello world}]' },
  { name: 'escapes', handler: 'JSON', body: '[{"body":"tab\\t\\u00e9\\/ q\\\'s"}]' },
  { name: 'invalid escape', handler: 'JSON', body: '[{"body":"\\q"}]' },
  { name: 'raw control character in string', handler: 'JSON', body: '[{"body":"a\tb\nc"}]' },
  { name: 'NaN as body', handler: 'JSON', body: '[{"body":NaN}]' },
  { name: 'headers null', handler: 'JSON', body: '[{"headers":null,"body":"h"}]' },
  { name: 'headers array', handler: 'JSON', body: '[{"headers":["a"],"body":"h"}]' },
  { name: 'numeric header name', handler: 'JSON', body: '[{"headers":{1:"one"},"body":"h"}]' },
  { name: 'wrong content type', handler: 'JSON', body: '[{"body":"ct"}]', contentType: 'text/plain' },
  { name: 'no content type', handler: 'JSON', body: '[{"body":"ct"}]', contentType: '' },
  { name: 'charset latin1', handler: 'JSON', body: '[{"body":"cs"}]', contentType: `${J}; charset=ISO-8859-1` },
  { name: 'charset utf-16', handler: 'JSON', body: Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from('[{"body":"\u00e9"}]', 'utf16le').swap16()]), contentType: `${J}; charset=UTF-16` },
  // Malformed UTF-16 and UTF-32, as Java's decoder reads them.
  { name: 'charset utf-32, a code point past U+10FFFF', handler: 'JSON', body: utf32be('[{"body":"a', 0x110000, 'b"}]'), contentType: `${J}; charset=UTF-32` },
  { name: 'charset utf-32, an encoded surrogate', handler: 'JSON', body: utf32be('[{"body":"a', 0xd800, 'b"}]'), contentType: `${J}; charset=UTF-32` },
  { name: 'charset utf-32, an encoded surrogate pair', handler: 'JSON', body: utf32be('[{"body":"a', 0xd83d, 0xde00, 'b"}]'), contentType: `${J}; charset=UTF-32` },
  { name: 'charset utf-32, a partial unit at the end', handler: 'JSON', body: Buffer.concat([utf32be('[{"body":"a"}] '), Buffer.from([0, 0])]), contentType: `${J}; charset=UTF-32` },
  { name: 'charset utf-16, an odd byte at the end', handler: 'JSON', body: Buffer.concat([Buffer.from('[{"body":"a"}] ', 'utf16le').swap16(), Buffer.from([0])]), contentType: `${J}; charset=UTF-16` },
  { name: 'charset utf-16, an unpaired surrogate in a body', handler: 'JSON', body: Buffer.concat([Buffer.from('[{"body":"a', 'utf16le').swap16(), Buffer.from([0xd8, 0x00]), Buffer.from('b"}]', 'utf16le').swap16()]), contentType: `${J}; charset=UTF-16` },
  { name: 'huge body', handler: 'JSON', body: `[{"body":"${'x'.repeat(1_000_000)}"}]` },
  { name: 'GET', handler: 'JSON', body: '', method: 'GET' },
  // Gson's lenient rules at their edges.
  { name: 'unquoted values end at separators and comments', handler: 'JSON', body: '[{body:one#c\n,headers:{k:v/*c*/,j:w//c\n}}]' },
  { name: 'quotes inside an unquoted value', handler: 'JSON', body: `[{body:a"b'c}]` },
  { name: 'single-quoted strings with escapes', handler: 'JSON', body: `[{'body':'it\\'s \\"q\\" \\u00e9 "d"'}]` },
  { name: 'top-level NULL', handler: 'JSON', body: 'NULL' },
  { name: 'top-level null, then garbage', handler: 'JSON', body: 'null x' },
  { name: 'top-level unquoted string', handler: 'JSON', body: 'nullx' },
  { name: 'top-level single-quoted string', handler: 'JSON', body: "'x'" },
  { name: 'non-execute prefix alone', handler: 'JSON', body: ")]}'\n" },
  { name: 'comment alone', handler: 'JSON', body: '// nothing' },
  { name: 'comment after the array', handler: 'JSON', body: '[{"body":"a"}] // c' },
  { name: 'unterminated block comment', handler: 'JSON', body: '[{"body":"a"}/* c' },
  { name: '\\u escape not hexadecimal', handler: 'JSON', body: '[{"body":"\\u12G4"}]' },
  { name: 'headers as [key, value] pairs', handler: 'JSON', body: '[{"headers":[["a","1"],["b",true]],"body":"p"}]' },
  { name: 'null header name in pairs', handler: 'JSON', body: '[{"headers":[[null,"v"]],"body":"p"}]' },
  { name: 'null header name in a pair of three', handler: 'JSON', body: '[{"headers":[[null,"",false]]}]' },
  { name: 'a header pair of three', handler: 'JSON', body: '[{"headers":[["a","1","x"]],"body":"p"}]' },
  { name: 'a repeated header in a pair of three', handler: 'JSON', body: '[{"headers":[["a","1"],["a","2","x"]],"body":"p"}]' },
  { name: 'a header pair of one', handler: 'JSON', body: '[{"headers":[[null]],"body":"p"}]' },
  { name: 'header repeated after a null', handler: 'JSON', body: '[{"headers":{"a":null,"a":"2"},"body":"d"}]' },
  { name: '=> and a bare >', handler: 'JSON', body: '[{"body"=>x,"headers"= {"k"=>>}}]' },
  { name: 'keywords in any case', handler: 'JSON', body: '[{"body":TrUe},{"body":NULL},{"body":nulls}]' },
  { name: 'numbers kept as written', handler: 'JSON', body: '[{"body":-0},{"body":007},{"body":1E+2}]' },
  { name: 'escaped member name', handler: 'JSON', body: '[{"bo\\u0064y":"esc"}]' },
  { name: 'byte-order mark first', handler: 'JSON', body: '\ufeff[{"body":"bom"}]' },
  { name: 'form feed between tokens', handler: 'JSON', body: '[\f{"body":"a"}]' },
  { name: 'lone slash', handler: 'JSON', body: '[{"body":"a"}/]' },
  { name: 'unpaired surrogate escapes in a body', handler: 'JSON', body: '[{"body":"\\ud800x\\udc00"}]' },
  { name: 'chunks: a string split across a multi-byte character', handler: 'JSON', body: `[{'body':'${'é'.repeat(40_000)}'},{body:${'x'.repeat(70_000)}}]` },
  { name: 'blob', handler: 'BLOB', body: 'raw bytes\n\u00e9\u0000', contentType: 'application/octet-stream', query: 'a=1&b=2&a=3' },
  { name: 'blob, mandatory parameter missing', handler: 'BLOB', body: 'raw', contentType: 'application/octet-stream', query: 'b=1' },
  { name: 'blob empty', handler: 'BLOB', body: '', contentType: 'application/octet-stream', query: 'a=v' },
  { name: 'blob, encoded parameters', handler: 'BLOB', body: 'x', contentType: 'text/plain', query: 'a=%C3%A9+x&b%20c=%26' },
  { name: 'blob, JSON content type', handler: 'BLOB', body: '[{"body":"j"}]', query: 'a=1' },
  { name: 'blob, huge body', handler: 'BLOB', body: Buffer.alloc(2_000_000, 0x61), contentType: 'application/octet-stream', query: 'a=1' },
  { name: "blob with Flume's default mandatoryParameters", handler: 'BLOB0', body: 'raw', contentType: 'application/octet-stream', query: 'a=1' },
  { name: "blob with Flume's default mandatoryParameters, no parameters", handler: 'BLOB0', body: 'raw', contentType: 'application/octet-stream' },
];
const NULL_PROBES: Probe[] = [{ name: 'null header value', handler: 'JSON', body: '[{"headers":{"a":null,"b":"2"},"body":"nh"}]' }];

/**
 * Requests rxflume answers otherwise than Flume (documented in docs/differences-from-flume.md): the
 * status of each side, pinned; nothing is stored by rxflume when it refuses.
 */
const DIFFERS: Record<string, { flume: number; rx: number; why: string }> = {
  GET: { flume: 500, rx: 405, why: 'Flume runs GET through the handler (an empty body: 500); rxflume takes POST only' },
  // docs/differences-from-flume.md: an invalid UTF-32 body is refused, where Java's decoder substitutes.
  'charset utf-32, a code point past U+10FFFF': { flume: 200, rx: 400, why: "Java's decoder reads it as U+FFFD; rxflume refuses an invalid UTF-32 body" },
  'charset utf-32, an encoded surrogate': { flume: 200, rx: 400, why: "Java's decoder passes a surrogate unit on as a char; rxflume refuses an invalid UTF-32 body" },
  'charset utf-32, an encoded surrogate pair': { flume: 200, rx: 400, why: "Java's decoder passes surrogate units on as chars, which pair; rxflume refuses an invalid UTF-32 body" },
  'charset utf-16, an unpaired surrogate in a body': { flume: 200, rx: 200, why: "Java's decoder reads a high surrogate and the unit after it as one U+FFFD; rxflume keeps that unit (the stored bodies are pinned below)" },
};
const DIFFERS_NULL = { rx: 200 };

interface Outcome {
  status: number;
  text: string;
  events: { headers: Record<string, string | null>; body: string }[];
}

function send(port: number, probe: Probe, path = '/'): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const body = typeof probe.body === 'string' ? Buffer.from(probe.body) : probe.body;
    const headers: Record<string, string | number> = { 'content-length': body.length };
    const ct = probe.contentType ?? J;
    if (ct) headers['content-type'] = ct;
    const req = request({ host: '127.0.0.1', port, method: probe.method ?? 'POST', path: probe.query ? `${path}?${probe.query}` : path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const view = (e: FlumeEvent): Outcome['events'][number] => ({ headers: { ...e.headers }, body: e.body.toString('base64') });

let markers = 0;

interface Sent {
  probe: Probe;
  status: number;
  text: string;
  sink: RecordingSink;
  marker: string;
}

/**
 * Sends the probe, then a marker request (a valid event with a header `marker`) to `markerPort`, and
 * does not wait: channels keep order, so what the sink gets between the previous marker and this one
 * is the probe's events (`collect`). Waiting once at the end, not per probe, spares each probe Flume's
 * sink runner back-off on an empty channel (up to 5 s).
 */
async function probeInto(port: number, probe: Probe, sink: RecordingSink, markerPort: number, handler: 'JSON' | 'BLOB'): Promise<Sent> {
  const { status, text } = await send(port, probe);
  const marker = String(++markers);
  const m: Probe =
    handler === 'JSON' ? { name: 'marker', handler, body: `[{"headers":{"marker":"${marker}"},"body":""}]` } : { name: 'marker', handler, body: '', query: `a=m&marker=${marker}` };
  const sent = await send(markerPort, m);
  if (sent.status !== 200) throw new Error(`marker refused: ${sent.status} ${sent.text}`);
  return { probe, status, text, sink, marker };
}

/** Each probe's outcome: once every marker arrived, the events each sink got before the probe's marker and after the one before it. */
async function collect(sent: readonly Sent[]): Promise<Map<string, Outcome>> {
  for (const s of sent) await waitFor(() => s.sink.events.some((e) => e.headers['marker'] === s.marker), `marker ${s.marker}`, 60_000);
  const out = new Map<string, Outcome>();
  const read = new Map<RecordingSink, number>();
  for (const s of sent) {
    const from = read.get(s.sink) ?? 0;
    const at = s.sink.events.findIndex((e, i) => i >= from && e.headers['marker'] === s.marker);
    out.set(s.probe.name, { status: s.status, text: s.text, events: s.sink.events.slice(from, at).map(view) });
    read.set(s.sink, at + 1);
  }
  return out;
}

describe.skipIf(env.skip)(`HTTP source against Apache Flume 1.11.0${env.note}`, () => {
  let agent: FlumeAgent | undefined;
  const subscriptions: Subscription[] = [];
  const fromFlume = { JSON: recordingSink(), BLOB: recordingSink(), BLOB0: recordingSink() };
  const ours = { JSON: recordingSink(), BLOB: recordingSink(), BLOB0: recordingSink() };
  const flumePorts = { JSON: 0, BLOB: 0, BLOB0: 0, NULL: 0 };
  const ourPorts = { JSON: 0, BLOB: 0, BLOB0: 0 };
  let flume = new Map<string, Outcome>();
  let rx = new Map<string, Outcome>();

  beforeAll(async () => {
    const avroPorts: Record<string, number> = {};
    for (const h of ['JSON', 'BLOB', 'BLOB0'] as const) {
      const l = listening();
      subscriptions.push(avroSource({ name: `from-flume-${h}`, bind: '127.0.0.1', port: 0, onListening: l.onListening }).pipe(memoryChannel({ capacity: 1000 })).subscribe(fromFlume[h]));
      avroPorts[h] = await l.port;
      const m = listening();
      const handler = h === 'JSON' ? 'JSON' : 'BLOB';
      const mandatoryParameters = h === 'BLOB' ? ['a'] : h === 'BLOB0' ? [''] : [];
      subscriptions.push(httpSource({ name: `http-${h}`, bind: '127.0.0.1', port: 0, handler, mandatoryParameters, onListening: m.onListening }).pipe(memoryChannel({ capacity: 1000 })).subscribe(ours[h]));
      ourPorts[h] = await m.port;
      flumePorts[h] = await freePort();
    }
    flumePorts.NULL = await freePort();
    agent = await startFlumeAgent({
      mkdirs: ['out-null'],
      conf: `
a1.sources = hj hb hb0 hn
a1.channels = cj cb cb0 cn
a1.sinks = kj kb kb0 kn
a1.sources.hj.type = http
a1.sources.hj.bind = 127.0.0.1
a1.sources.hj.port = ${flumePorts.JSON}
a1.sources.hj.channels = cj
a1.sources.hb.type = http
a1.sources.hb.bind = 127.0.0.1
a1.sources.hb.port = ${flumePorts.BLOB}
a1.sources.hb.handler = org.apache.flume.source.http.BLOBHandler
a1.sources.hb.handler.mandatoryParameters = a
a1.sources.hb.channels = cb
a1.sources.hb0.type = http
a1.sources.hb0.bind = 127.0.0.1
a1.sources.hb0.port = ${flumePorts.BLOB0}
a1.sources.hb0.handler = org.apache.flume.source.http.BLOBHandler
a1.sources.hb0.channels = cb0
a1.sources.hn.type = http
a1.sources.hn.bind = 127.0.0.1
a1.sources.hn.port = ${flumePorts.NULL}
a1.sources.hn.channels = cn
a1.channels.cj.type = memory
a1.channels.cb.type = memory
a1.channels.cn.type = memory
a1.channels.cb0.type = memory
# Probes are sent without waiting for the sinks: room for all of them (transactions stay at 100 events).
a1.channels.cj.capacity = 100000
a1.channels.cb.capacity = 100000
a1.channels.cb0.capacity = 100000
a1.sinks.kb0.type = avro
a1.sinks.kb0.hostname = 127.0.0.1
a1.sinks.kb0.port = ${avroPorts['BLOB0']}
a1.sinks.kb0.channel = cb0
a1.sinks.kj.type = avro
a1.sinks.kj.hostname = 127.0.0.1
a1.sinks.kj.port = ${avroPorts['JSON']}
a1.sinks.kj.channel = cj
a1.sinks.kb.type = avro
a1.sinks.kb.hostname = 127.0.0.1
a1.sinks.kb.port = ${avroPorts['BLOB']}
a1.sinks.kb.channel = cb
a1.sinks.kn.type = file_roll
a1.sinks.kn.sink.directory = {{dir}}/out-null
a1.sinks.kn.sink.rollInterval = 0
a1.sinks.kn.sink.serializer = header_and_text
a1.sinks.kn.channel = cn
`,
    });
    for (const s of ['hj', 'hb', 'hb0', 'hn']) await agent.waitForLog(new RegExp(`type: SOURCE, name: ${s} started`));
    const sentFlume: Sent[] = [];
    const sentOurs: Sent[] = [];
    for (const probe of PROBES) {
      // The default BLOBHandler takes nothing: its markers go through the BLOB source into another sink.
      const markerHandler = probe.handler === 'JSON' ? 'JSON' : 'BLOB';
      sentFlume.push(await probeInto(flumePorts[probe.handler], probe, fromFlume[markerHandler], flumePorts[markerHandler], markerHandler));
      sentOurs.push(await probeInto(ourPorts[probe.handler], probe, ours[markerHandler], ourPorts[markerHandler], markerHandler));
    }
    flume = await collect(sentFlume);
    rx = await collect(sentOurs);
  }, 300_000);

  afterAll(async () => {
    for (const s of subscriptions) s.unsubscribe();
    await agent?.stop();
  });

  for (const probe of PROBES) {
    const differs = DIFFERS[probe.name];
    it(`${probe.name}: ${differs ? `differs (${differs.why})` : 'the same status and stored events'}`, () => {
      const f = flume.get(probe.name)!;
      const r = rx.get(probe.name)!;
      if (differs) {
        // Pinned on both sides: a change in either is seen here.
        expect([f.status, r.status], r.text).toEqual([differs.flume, differs.rx]);
        if (r.status !== 200) expect(r.events).toEqual([]);
        return;
      }
      expect(r.status, `${r.text} / Flume: ${f.text.slice(0, 200)}`).toBe(f.status);
      expect(r.events).toEqual(f.events);
      // Error answers: Flume's message (in Jetty's HTML page) is in ours (plain text).
      const title = /<title>Error \d+ (.*?)<\/title>/s.exec(f.text)?.[1]?.replace(/&quot;/g, '"');
      if (f.status !== 200 && title && !title.includes('Cannot invoke')) expect(r.text).toContain(title.replace(/\.$/, ''));
    });
  }

  it("a raw unpaired high surrogate in a UTF-16 body: Java's decoder drops the unit after it, rxflume keeps it (both as Java's getBytes)", () => {
    const bodies = (side: Map<string, Outcome>) => side.get('charset utf-16, an unpaired surrogate in a body')!.events.map((e) => Buffer.from(e.body, 'base64'));
    expect(bodies(flume)).toEqual([Buffer.from([0xfe, 0xff, 0, 0x61, 0xff, 0xfd])]);
    expect(bodies(rx)).toEqual([Buffer.from([0xfe, 0xff, 0, 0x61, 0xff, 0xfd, 0, 0x62])]);
  });

  it('collects each probe\'s own events: the valid JSON probe stored its two events on both sides', () => {
    for (const side of [flume, rx]) expect(side.get('valid JSON')!.events.map((e) => Buffer.from(e.body, 'base64').toString())).toEqual(['hello', 'two']);
  });

  it('null header values: Flume takes the request (200), so does rxflume (dropping the header)', async () => {
    for (const probe of NULL_PROBES) {
      const f = await send(flumePorts.NULL, probe);
      expect(f.status).toBe(200);
      const r = await send(ourPorts.JSON, probe);
      expect(r.status, r.text).toBe(DIFFERS_NULL.rx);
    }
  });
});
