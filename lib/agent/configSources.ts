/**
 * Where an agent's configuration comes from (Flume 1.10+): one or more `--conf-file`s and
 * `--conf-uri`s (`file://`, `http://`, `https://`), URIs first, later ones overriding earlier keys.
 * A reload is due when any text changed; a source that cannot be read keeps the running configuration.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Diagnostic } from './diagnostic.js';
import type { ConfigText } from './flumeConfig.js';

export interface ConfigSources {
  files: readonly string[];
  uris: readonly string[];
}

/** How long one http(s) fetch may take. */
const FETCH_TIMEOUT_MS = 15_000;
/** Largest configuration text accepted from a URI. */
const MAX_URI_BYTES = 16 * 1024 * 1024;

/** Flume's default interval between checks: 30 s, or 300 s when a configuration comes over http(s). */
export function defaultPollSeconds(sources: ConfigSources): number {
  return sources.uris.some((u) => /^https?:/i.test(u)) ? 300 : 30;
}

/** Checks the URIs' form before anything is read. Returns a message per bad one. */
export function uriProblems(uris: readonly string[]): string[] {
  const out: string[] = [];
  for (const uri of uris) {
    let url: URL;
    try {
      url = new URL(uri);
    } catch {
      out.push(`--conf-uri ${JSON.stringify(uri)}: not a URI; expected file://, http:// or https://`);
      continue;
    }
    if (url.protocol === 'classpath:') out.push(`--conf-uri ${uri}: classpath:// names a Java classpath resource; use file:// or a --conf-file`);
    else if (!['file:', 'http:', 'https:'].includes(url.protocol)) out.push(`--conf-uri ${uri}: unsupported scheme ${url.protocol}; expected file://, http:// or https://`);
  }
  return out;
}

/** Reads every source, URIs first (Flume's order). Never throws: unreadable sources are diagnostics. */
export async function readConfigTexts(sources: ConfigSources): Promise<{ texts: ConfigText[]; diagnostics: Diagnostic[] }> {
  const texts: ConfigText[] = [];
  const diagnostics: Diagnostic[] = [];
  const fail = (file: string, message: string) => diagnostics.push({ severity: 'error', file, line: 0, key: '', message });
  for (const uri of sources.uris) {
    try {
      texts.push({ text: await readUri(uri), file: uri });
    } catch (error) {
      fail(uri, `cannot read the configuration: ${(error as Error).message}`);
    }
  }
  for (const file of sources.files) {
    try {
      texts.push({ text: readFileSync(file, 'utf8'), file });
    } catch (error) {
      fail(file, `cannot read the file: ${(error as Error).message}`);
    }
  }
  return { texts, diagnostics };
}

async function readUri(uri: string): Promise<string> {
  const url = new URL(uri);
  if (url.protocol === 'file:') return readFileSync(fileURLToPath(url), 'utf8');
  const response = await fetch(url, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS), redirect: 'follow' });
  if (!response.ok) throw new Error(`HTTP ${response.status} ${response.statusText}`);
  const length = Number(response.headers.get('content-length') ?? 0);
  if (length > MAX_URI_BYTES) throw new Error(`${length} bytes; at most ${MAX_URI_BYTES} are accepted`);
  const body = Buffer.from(await response.arrayBuffer());
  if (body.length > MAX_URI_BYTES) throw new Error(`${body.length} bytes; at most ${MAX_URI_BYTES} are accepted`);
  return body.toString('utf8');
}

/** Whether two readings differ (a change of content, or of which sources could be read). */
export function changed(before: readonly ConfigText[], after: readonly ConfigText[]): boolean {
  return before.length !== after.length || before.some((t, i) => t.file !== after[i]!.file || t.text !== after[i]!.text);
}
