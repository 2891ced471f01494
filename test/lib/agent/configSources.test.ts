import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { changed, defaultPollSeconds, readConfigTexts, uriProblems } from '../../../lib/agent/configSources.js';

const dir = mkdtempSync(join(tmpdir(), 'rxflume-confsrc-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('configSources', () => {
  it('reads file:// URIs before files, in order, and reports an unreadable one without throwing', async () => {
    const a = join(dir, 'a.properties');
    const b = join(dir, 'b.properties');
    writeFileSync(a, 'a1.x = from-uri\n');
    writeFileSync(b, 'a1.x = from-file\n');
    const uri = pathToFileURL(a).href;
    const read = await readConfigTexts({ files: [b], uris: [uri] });
    expect(read.diagnostics).toEqual([]);
    expect(read.texts).toEqual([
      { text: 'a1.x = from-uri\n', file: uri },
      { text: 'a1.x = from-file\n', file: b },
    ]);
    const missing = await readConfigTexts({ files: [join(dir, 'nope.properties')], uris: [] });
    expect(missing.texts).toEqual([]);
    expect(missing.diagnostics[0]!.message).toMatch(/^cannot read the file: ENOENT/);
  });

  it('checks URI schemes, picks Flume’s poll interval, and sees a change of content or of sources', () => {
    expect(uriProblems(['file:///etc/flume.conf', 'https://conf.example/a1'])).toEqual([]);
    expect(uriProblems(['classpath://flume.conf', 'ftp://h/x', 'not a uri'])).toEqual([
      expect.stringMatching(/classpath:\/\/ names a Java classpath resource/),
      expect.stringMatching(/unsupported scheme ftp:/),
      expect.stringMatching(/not a URI/),
    ]);
    expect(defaultPollSeconds({ files: ['a'], uris: ['file:///x'] })).toBe(30);
    expect(defaultPollSeconds({ files: [], uris: ['http://h/x'] })).toBe(300);
    const t = [{ text: 'x', file: 'f' }];
    expect(changed(t, [{ text: 'x', file: 'f' }])).toBe(false);
    expect(changed(t, [{ text: 'y', file: 'f' }])).toBe(true);
    expect(changed(t, [])).toBe(true);
  });
});
