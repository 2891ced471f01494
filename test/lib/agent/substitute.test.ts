import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseProperties } from '../../../lib/agent/properties.js';
import { substitute, type SubstitutionOptions } from '../../../lib/agent/substitute.js';

const dir = mkdtempSync(join(tmpdir(), 'rxflume-subst-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(text: string, options: SubstitutionOptions = {}) {
  const { entries, diagnostics } = await substitute(parseProperties(text), 'a1', 'agent.properties', { env: {}, ...options });
  return { values: Object.fromEntries(entries.map((e) => [e.key, e.value])), messages: diagnostics.map((d) => `${d.line} ${d.severity}: ${d.message}`) };
}

describe('substitute', () => {
  it('resolves ${NAME} from other keys, ${env:…}, ${sys:…} and defaults, and keeps $${…} literal', async () => {
    const { values, messages } = await run(
      `NC_PORT = 44444
a1.base = /var/log
a1.sources.r1.port = \${NC_PORT}
a1.sources.r1.dir = \${a1.base}/app-\${env:APP}-\${sys:site}
a1.sources.r1.x = \${MISSING:-fallback} and $\${kept}
`,
      { env: { APP: 'web' }, systemProperties: new Map([['site', 'eu']]) },
    );
    expect(messages).toEqual([]);
    expect(values).toEqual({
      'a1.base': '/var/log',
      'a1.sources.r1.port': '44444',
      'a1.sources.r1.dir': '/var/log/app-web-eu',
      'a1.sources.r1.x': 'fallback and ${kept}',
    });
  });

  it('takes bare names from the environment only with envFallback (EnvVarResolverProperties)', async () => {
    const text = 'a1.sources.r1.port = ${NC_PORT}\n';
    const without = await run(text, { env: { NC_PORT: '5000' } });
    expect(without.values['a1.sources.r1.port']).toBe('${NC_PORT}');
    expect(without.messages).toEqual([expect.stringMatching(/^1 warning: \$\{NC_PORT\} is not resolved and stays as written .*\$\{env:NC_PORT\}.*EnvVarResolverProperties/)]);
    expect((await run(text, { env: { NC_PORT: '5000' }, envFallback: true })).values['a1.sources.r1.port']).toBe('5000');
  });

  it('applies env config filters in the three reference spellings', async () => {
    const { values, messages } = await run(
      `a1.configfilters = f1
a1.configfilters.f1.type = env
a1.sources.r1.a = \${f1['PASS']}
a1.sources.r1.b = pre-\${f1["PASS"]}-post
a1.sources.r1.c = \${f1[PASS]}
a1.sources.r1.d = \${f1['NOPE']}
a1.sources.r1.e = \${f9['PASS']}
`,
      { env: { PASS: 'Secret123' } },
    );
    expect(values).toMatchObject({ 'a1.sources.r1.a': 'Secret123', 'a1.sources.r1.b': 'pre-Secret123-post', 'a1.sources.r1.c': 'Secret123' });
    expect(Object.keys(values).some((k) => k.startsWith('a1.configfilters'))).toBe(false);
    expect(messages).toEqual([
      "6 error: ${f1['NOPE']}: environment variable `NOPE` is not set",
      "7 error: ${f9['PASS']}: no config filter `f9` in `a1.configfilters`",
    ]);
  });

  it('runs an external filter command with the key as its argument, without a shell', async () => {
    const script = join(dir, 'lookup.sh');
    writeFileSync(script, '#!/bin/sh\nif [ "$1" = "bad" ]; then echo "no such key" >&2; exit 3; fi\necho "value-of-$1"\necho ignored\n');
    chmodSync(script, 0o755);
    const { values, messages } = await run(`a1.configfilters = f1
a1.configfilters.f1.type = external
a1.configfilters.f1.command = ${script}
a1.sinks.k1.dir = /out/\${f1['agent name; rm -rf /']}
a1.sinks.k1.other = \${f1['bad']}
`);
    expect(values['a1.sinks.k1.dir']).toBe('/out/value-of-agent name; rm -rf /');
    expect(messages).toEqual([expect.stringMatching(/^5 error: \$\{f1\['bad'\]\}: command `.*lookup\.sh bad` exited with 3: no such key$/)]);
  });

  it('runs the external command without blocking the event loop, and stops it after externalTimeoutMs', async () => {
    const script = join(dir, 'slow.sh');
    writeFileSync(script, '#!/bin/sh\nif [ "$1" = "never" ]; then exec sleep 30; fi\nsleep 0.3\necho "slow-$1"\n');
    chmodSync(script, 0o755);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    const { values, messages } = await run(
      `a1.configfilters = f1
a1.configfilters.f1.type = external
a1.configfilters.f1.command = ${script}
a1.sinks.k1.a = \${f1['x']}
a1.sinks.k1.b = \${f1['never']}
`,
      { externalTimeoutMs: 1000 },
    ).finally(() => clearInterval(timer));
    // A synchronous command would have held every timer until it returned.
    expect(ticks).toBeGreaterThan(0);
    expect(values['a1.sinks.k1.a']).toBe('slow-x');
    expect(messages).toEqual([expect.stringMatching(/^5 error: \$\{f1\['never'\]\}: command `.*slow\.sh never` was stopped after 1000 ms$/)]);
  });

  it('reports unsupported and incomplete filters and self-references instead of looping', async () => {
    const { messages } = await run(`a1.configfilters = f1 f2 f3
a1.configfilters.f1.type = hadoop
a1.configfilters.f2.type = external
a1.configfilters.f3.type = vault
a1.x = \${a1.x}
`);
    expect(messages).toEqual([
      '2 error: the hadoop credential store config filter is not supported; use an env or external filter',
      '3 error: config filter `f2` of type external needs `a1.configfilters.f2.command`',
      '4 error: unknown config filter type "vault"; expected env or external',
      expect.stringMatching(/^5 error: .*nested more than 10 deep/),
    ]);
  });
});
