import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { components } from '../../lib/agent/components.js';
import { ERROR_CODES } from '../../lib/core/errors.js';
import { memoryChannelSpec } from '../../operators/channels/memoryChannel.js';
import { escapeTags, INDEX_END, INDEX_START, pagePath, regenerateReadme, renderDocs, renderOptions, ROOT, stalePages } from '../../scripts/docs.js';
import { SourceIndex, splitDoc } from '../../scripts/tsdoc.js';

const read = (rel: string) => readFileSync(path.join(ROOT, rel), 'utf8');
const index = new SourceIndex(ROOT);
const rendered = renderDocs(index);
const readme = read('README.md');

describe('generated docs', () => {
  it('are what `npm run docs` renders (run `npm run docs` when this fails)', () => {
    for (const [rel, content] of rendered) {
      expect(existsSync(path.join(ROOT, rel)), `${rel} is missing: run \`npm run docs\``).toBe(true);
      expect(read(rel), `${rel} differs from what the code renders: run \`npm run docs\` and commit it`).toBe(content);
    }
    expect(regenerateReadme(readme, index), 'the README component index is out of date: run `npm run docs`').toBe(readme);
  });

  it('has no page left for a component that is no longer registered', () => {
    expect(stalePages(rendered), 'stale pages: run `npm run docs` (it removes them)').toEqual([]);
  });

  it('has a page for every registered component, and the README index links every page', () => {
    const index = readme.slice(readme.indexOf(INDEX_START), readme.indexOf(INDEX_END));
    for (const { spec } of components) {
      expect(rendered.has(pagePath(spec)), `${spec.name} has no page`).toBe(true);
      expect(index, `${spec.name} is not linked from the README index`).toContain(`](${pagePath(spec)})`);
    }
    for (const rel of rendered.keys()) if (rel.startsWith('docs/components/')) expect(index).toContain(`](${rel})`);
  });

  it('documents every error code', () => {
    const errors = rendered.get('docs/errors.md')!;
    for (const code of Object.keys(ERROR_CODES)) expect(errors).toContain(`## ${code}\n`);
  });

  it('renders types, defaults and Flume keys from the schema', () => {
    const table = renderOptions(memoryChannelSpec);
    expect(table).toContain('| `capacity` | integer ≥ 1 | `100` |  |');
    expect(table).toContain('| `keepAliveMs` | integer ≥ 0 | `3000` | `keep-alive` |');
    expect(table).toContain('`"block"` \\| `"dropNewest"` \\| `"dropOldest"`');
    // A z.custom option is named by what it accepts, not as "any".
    expect(table).toContain('| `logger` | a function (level, message, fields?) => void |');
  });

  it("puts a component's TSDoc, counters and error codes on its page", () => {
    const page = rendered.get('docs/components/channel/memoryChannel.md')!;
    expect(page).toContain('## Delivery guarantee\n\nAt-least-once while the process lives.');
    expect(page).toContain('pipe(sequenceSource({ totalEvents: 1000 }), memoryChannel({ capacity: 10_000 }), loggerSink());');
    expect(page).toContain('[`FLUME_CHANNEL_FULL`](../../errors.md#flume_channel_full)'); // from `new ChannelFullError(`
    expect(page).toContain('[`FLUME_BATCH_TOO_LARGE`](../../errors.md#flume_batch_too_large)');
    const taildir = rendered.get('docs/components/source/taildirSource.md')!;
    expect(taildir).toContain('- also counted here: `FileRotatedCount`'); // from `metrics.inc('FileRotatedCount')` in its folder
  });
});

describe('splitDoc', () => {
  it('takes the labelled parts out of the description, wherever a sentence starts them', () => {
    const doc = splitDoc(
      [
        'Does a thing. Counters: `A`, `B`. Unsubscribing closes it.',
        '',
        'Delivery: at-least-once. Errors: none at run time.',
        '',
        '@example',
        'pipe(a, b);',
      ].join('\n'),
    );
    expect(doc.description).toBe('Does a thing. Unsubscribing closes it.');
    expect(doc.counters).toBe('Counters: `A`, `B`.');
    expect(doc.delivery).toBe('at-least-once.');
    expect(doc.errors).toBe('none at run time.');
    expect(doc.examples).toEqual(['pipe(a, b);']);
  });

  it('keeps a fenced block whole and does not read a label inside a sentence', () => {
    const doc = splitDoc(['A diagram:', '', '```', 'a --b--|', '', '@x', '```', '', 'The Delivery: of this is not a label.'].join('\n'));
    expect(doc.description).toBe(['A diagram:', '', '```', 'a --b--|', '', '@x', '```', '', 'The Delivery: of this is not a label.'].join('\n'));
    expect(doc.delivery).toBeUndefined();
  });
});

describe('escapeTags', () => {
  it('keeps <name> visible outside code and leaves code alone', () => {
    expect(escapeTags('per member `Count.<member>` or <member>')).toBe('per member `Count.<member>` or &lt;member>');
    expect(escapeTags('```\n<pre>\n```')).toBe('```\n<pre>\n```');
  });
});

/** The hand-written docs too: links that lead nowhere are caught here. */
function markdownFiles(): string[] {
  const out = ['README.md', 'CONTRIBUTING.md'];
  const walk = (dir: string): void => {
    for (const e of readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
      const rel = `${dir}/${e.name}`;
      if (e.isDirectory()) walk(rel);
      else if (e.name.endsWith('.md')) out.push(rel);
    }
  };
  walk('docs');
  return out;
}

describe('README and docs', () => {
  it('start with the two commands a newcomer runs', () => {
    const firstBlock = readme.slice(readme.indexOf('```sh'), readme.indexOf('```', readme.indexOf('```sh') + 5));
    expect(firstBlock).toMatch(/\nnpm install && npm start\s/);
    expect(firstBlock).toMatch(/\nnpm test\s/);
  });

  it('keep the README short', () => {
    expect(Buffer.byteLength(readme)).toBeLessThan(15_000);
  });

  it("show the agent configuration the README names, as it is in examples/", () => {
    const block = /```properties\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(block).toBe(read('examples/seq-logger.properties'));
  });

  it('link only to files that exist, and to headings that exist in generated pages', () => {
    const broken: string[] = [];
    for (const file of markdownFiles()) {
      const text = read(file).replace(/```[\s\S]*?```/g, '');
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/.test(target!) || target!.startsWith('#')) continue;
        const [rel, anchor] = target!.split('#');
        const abs = path.resolve(path.dirname(path.join(ROOT, file)), rel!);
        if (!existsSync(abs)) broken.push(`${file}: ${target}`);
        else if (anchor && abs.endsWith('.md')) {
          const slugs = [...readFileSync(abs, 'utf8').matchAll(/^#+ (.+)$/gm)].map((m) => m[1]!.toLowerCase().replace(/[^\w\- ]/g, '').replace(/ /g, '-'));
          if (!slugs.includes(anchor)) broken.push(`${file}: ${target} (no such heading)`);
        }
      }
    }
    expect(broken).toEqual([]);
  });
});
