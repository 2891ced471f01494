/**
 * scripts/maven.ts against the real `mvn`: a one-jar set fetched into a temp cache (from ~/.m2 or Maven
 * Central), concurrent callers, a cached set without Maven, a failing fetch. Needs java and mvn, as the
 * Kafka and Flume tests do: skipped without them unless RXFLUME_REQUIRE_KAFKA=1 or RXFLUME_REQUIRE_FLUME=1.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { requireTools } from '../support/keytool.js';
import { fetchJars, isCached, pomXml, serviceCacheDir, type MavenSet } from '../../scripts/maven.js';
import { checkTools, ToolsMissingError } from '../../scripts/service.js';

const SET: MavenSet = { service: 'probe', version: '1', title: 'probe', artifacts: ['org.slf4j:slf4j-api:1.7.36'] };

function toolsMissing(): string | undefined {
  if (requireTools || process.env['RXFLUME_REQUIRE_KAFKA'] === '1' || process.env['RXFLUME_REQUIRE_FLUME'] === '1') return undefined;
  try {
    checkTools('scripts/maven tests', { maven: true });
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}
const missing = toolsMissing();

describe('scripts/maven pom and cache folder', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('writes every artifact as a dependency, BOMs as imports, and copies runtime jars into the libs folder', () => {
    const pom = pomXml({ ...SET, artifacts: ['a.b:c-d:1.2.3', 'e:f:4'], boms: ['io.netty:netty-bom:4.1.72.Final'] }, '/cache/probe/1/libs');
    expect(pom).toContain('<dependency><groupId>a.b</groupId><artifactId>c-d</artifactId><version>1.2.3</version></dependency>');
    expect(pom).toContain('<dependency><groupId>e</groupId><artifactId>f</artifactId><version>4</version></dependency>');
    expect(pom).toMatch(/<dependencyManagement><dependencies>\s*<dependency><groupId>io\.netty<\/groupId><artifactId>netty-bom<\/artifactId><version>4\.1\.72\.Final<\/version><type>pom<\/type><scope>import<\/scope>/);
    expect(pom).toContain('<outputDirectory>/cache/probe/1/libs</outputDirectory>');
    expect(pom).toContain('<includeScope>runtime</includeScope>');
    expect(pomXml(SET, '/x')).not.toContain('dependencyManagement');
    expect(() => pomXml({ ...SET, artifacts: ['a:b'] }, '/x')).toThrow(/not a Maven groupId:artifactId:version: a:b/);
  });

  it('an intransitive set excludes every dependency of its artifacts', () => {
    const exclusions = '<exclusions><exclusion><groupId>*</groupId><artifactId>*</artifactId></exclusion></exclusions>';
    expect(pomXml({ ...SET, artifacts: ['e:f:4'], intransitive: true }, '/x')).toContain(`<version>4</version>${exclusions}</dependency>`);
    expect(pomXml({ ...SET, artifacts: ['e:f:4'] }, '/x')).not.toContain('<exclusions>');
  });

  it('caches under RXFLUME_<SERVICE>_CACHE, else XDG_CACHE_HOME/rxflume/<service>', () => {
    vi.stubEnv('RXFLUME_PROBE_CACHE', '/somewhere/probe');
    expect(serviceCacheDir('probe')).toBe('/somewhere/probe');
    vi.stubEnv('RXFLUME_PROBE_CACHE', '');
    vi.stubEnv('XDG_CACHE_HOME', '/xdg');
    expect(serviceCacheDir('probe')).toBe('/xdg/rxflume/probe');
  });
});

describe.skipIf(missing !== undefined)(`scripts/maven fetch with the real mvn${missing ? ` [skipped: ${missing}]` : ''}`, () => {
  let cache: string;
  beforeEach(() => {
    cache = mkdtempSync(join(tmpdir(), 'rxflume-maven-test-'));
    vi.stubEnv('RXFLUME_PROBE_CACHE', cache);
  });
  afterEach(() => {
    vi.unstubAllEnvs();
    rmSync(cache, { recursive: true, force: true });
  });

  it('fetches once for concurrent callers, marks the set complete, and then needs no Maven', async () => {
    const lines: string[] = [];
    const [a, b] = await Promise.all([fetchJars(SET, { log: (l) => lines.push(l) }), fetchJars(SET, { log: (l) => lines.push(l) })]);
    expect([a.fetched, b.fetched].sort()).toEqual([false, true]);
    expect(a.libsDir).toBe(join(cache, '1', 'libs'));
    expect(readdirSync(a.libsDir).sort()).toEqual(['.complete', 'slf4j-api-1.7.36.jar']);
    expect(existsSync(join(cache, '1', '.fetching'))).toBe(false);
    expect(lines.some((l) => l.includes('another process is fetching the probe jars'))).toBe(true);
    expect(isCached(SET)).toBe(true);

    vi.stubEnv('PATH', '/nonexistent');
    const again = await fetchJars(SET);
    expect(again).toMatchObject({ fetched: false, libsDir: a.libsDir });
  }, 180_000);

  it('a failed fetch says what mvn printed and leaves neither a complete mark nor its lock', async () => {
    const bad: MavenSet = { ...SET, artifacts: ['dev.rxflume.nonexistent:nothing-here:0.0.1'] };
    await expect(fetchJars(bad)).rejects.toThrow(/mvn -B -q -f .*pom\.xml package failed with exit code 1:[\s\S]*nothing-here/);
    expect(isCached(bad)).toBe(false);
    expect(existsSync(join(cache, '1', '.fetching'))).toBe(false);
  }, 180_000);

  it('names mvn when the set is not cached and only java is on the PATH', async () => {
    const only = mkdtempSync(join(cache, 'bin-'));
    symlinkSync(execFileSync('sh', ['-c', 'command -v java'], { encoding: 'utf8' }).trim(), join(only, 'java'));
    vi.stubEnv('PATH', only);
    const error = await fetchJars(SET).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ToolsMissingError);
    expect((error as ToolsMissingError).missing).toEqual(['mvn']);
    expect((error as Error).message).toMatch(/^fetching the probe jars needs mvn \(Apache Maven 3/);
  });
});
