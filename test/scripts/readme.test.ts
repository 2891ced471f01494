import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { components } from '../../lib/agent/components.js';
import { regenerate, renderOptions } from '../../scripts/readme.js';
import { memoryChannelSpec } from '../../operators/channels/memoryChannel.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

describe('README', () => {
  it('has the component and option tables the schemas generate (run `npm run docs` when this fails)', () => {
    expect(readme).toBe(regenerate(readme));
  });

  it('documents every registered component and every option of each', () => {
    for (const { spec } of components) {
      expect(readme).toContain(`### ${spec.name}`);
      for (const key of Object.keys((spec.schema as unknown as { shape: object }).shape)) {
        expect(readme).toContain(`| \`${key}\` |`);
      }
    }
  });

  it('renders types, defaults and Flume keys from the schema', () => {
    const table = renderOptions(memoryChannelSpec);
    expect(table).toContain('| `capacity` | integer ≥ 1 | `100` |  |');
    expect(table).toContain('| `keepAliveMs` | integer ≥ 0 | `3000` | `keep-alive` |');
    expect(table).toContain('`"block"` \\| `"dropNewest"` \\| `"dropOldest"`');
  });

  it('starts with the two commands a newcomer runs', () => {
    expect(readme).toMatch(/npm install && npm start/);
    expect(readme).toMatch(/\nnpm test\s/);
  });
});
