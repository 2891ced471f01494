/**
 * Avro object container files of Flume `Event` records (avro_event), read two ways:
 * `avscEvents` with avsc (codecs null, deflate and snappy — the snappy block's CRC-32 checked), and
 * `javaAvroEvents` with Apache Avro's own Java reader from Flume's jars (test/support/AvroFileProbe.java,
 * run by `java` as a source file), which is what Flume and Hadoop tools read such files with.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import avro from 'avsc';
import { ensureFlumeJars } from '../../scripts/flume.js';
import { runJava } from './javaProbe.js';

export interface AvroEvent {
  headers: Record<string, string>;
  body: Buffer;
}

export interface AvroFile {
  codec: string;
  events: AvroEvent[];
}

const require = createRequire(import.meta.url);
const snappy = require('snappyjs') as { uncompress(input: Uint8Array): Uint8Array };

/** The events of an Avro container file, decoded with avsc; its codec from the file's metadata. */
export function avscEvents(file: string): AvroFile {
  const bytes = readFileSync(file);
  const meta = avro.Type.forSchema({ type: 'map', values: 'bytes' });
  const magicLength = 4;
  const { value, offset } = meta.decode(bytes, magicLength);
  const header = value as Record<string, Buffer> | undefined;
  if (!header || bytes.subarray(0, 4).toString('latin1') !== 'Obj\x01') throw new Error(`${file}: not an Avro container file`);
  const codec = header['avro.codec']?.toString() ?? 'null';
  const type = avro.Type.forSchema(JSON.parse(header['avro.schema']!.toString()) as avro.Schema);
  const long = avro.Type.forSchema('long');
  const sync = bytes.subarray(offset, offset + 16);
  const events: AvroEvent[] = [];
  let at = offset + 16;
  while (at < bytes.length) {
    const count = long.decode(bytes, at);
    const size = long.decode(bytes, count.offset);
    const start = size.offset;
    const end = start + (size.value as number);
    let data = bytes.subarray(start, end);
    if (codec === 'deflate') data = zlib.inflateRawSync(data);
    else if (codec === 'snappy') {
      const raw = Buffer.from(snappy.uncompress(data.subarray(0, data.length - 4)));
      if (zlib.crc32(raw) !== data.readUInt32BE(data.length - 4)) throw new Error(`${file}: a snappy block's CRC-32 does not match`);
      data = raw;
    } else if (codec !== 'null') throw new Error(`${file}: codec ${codec}`);
    if (!bytes.subarray(end, end + 16).equals(sync)) throw new Error(`${file}: a block not ended by the file's sync marker`);
    let pos = 0;
    for (let i = 0; i < (count.value as number); i++) {
      const r = type.decode(data, pos);
      events.push(r.value as AvroEvent);
      pos = r.offset;
    }
    at = end + 16;
  }
  return { codec, events };
}

const PROBE = fileURLToPath(new URL('./AvroFileProbe.java', import.meta.url));
const unb64 = (s: string): Buffer => Buffer.from(s, 'base64');

/** The events of each file as Apache Avro's Java DataFileReader reads them (one JVM for all). */
export async function javaAvroEvents(files: readonly string[], timeoutMs = 60_000): Promise<AvroFile[]> {
  const libs = await ensureFlumeJars();
  const { code, stdout, stderr } = await runJava(['-cp', join(libs, '*'), PROBE, ...files], { timeoutMs });
  const lines = stdout.split('\n').filter(Boolean);
  const failed = lines.find((l) => l.startsWith('X '));
  if (code !== 0 || failed) throw new Error(`AvroFileProbe exited ${code}: ${failed ? unb64(failed.slice(2)).toString() : stderr.slice(0, 2000)}`);
  const read: AvroFile[] = [];
  for (const line of lines) {
    if (line.startsWith('F ')) {
      read.push({ codec: line.slice(2), events: [] });
      continue;
    }
    const f = line.split(' ').slice(1);
    const headers: Record<string, string> = {};
    for (let i = 1; i + 1 < f.length; i += 2) headers[unb64(f[i]!).toString('utf8')] = unb64(f[i + 1]!).toString('utf8');
    read.at(-1)!.events.push({ headers, body: unb64(f[0]!) });
  }
  return read;
}
