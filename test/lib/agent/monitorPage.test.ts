/**
 * The live topology page in a real browser (issue #18): Debian's headless Chromium opens the page of
 * an agent (http → timestamp → replicating → c1 → null, c2 → failover group of two Avro sinks whose
 * server is down), finds every component in the graph, and watches rates move, c2 fill up and the
 * group fail while events are posted. A screenshot is left under the test output.
 */
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDist, root } from '../../support/examples.js';
import { scratch, startCli, type RunningCli } from '../../support/cli.js';
import { chromium, launchChromium, testOutput } from '../../support/chromium.js';

// The callbacks below run in the page: its globals, typed as far as these checks read them (tsconfig has no DOM lib).
interface PageElement {
  textContent: string | null;
  getAttribute(name: string): string | null;
  classList: { contains(name: string): boolean };
}
declare const document: { querySelector(selector: string): PageElement | null; getElementById(id: string): PageElement | null; activeElement: PageElement | null; body: PageElement };
declare function getComputedStyle(element: PageElement): { backgroundColor: string };

const config = `a1.sources = r1
a1.channels = c1 c2
a1.sinks = k1 k2 k3
a1.sinkgroups = g1
a1.sinkgroups.g1.sinks = k2 k3
a1.sinkgroups.g1.processor.type = failover
a1.sources.r1.type = http
a1.sources.r1.bind = 127.0.0.1
a1.sources.r1.port = 0
a1.sources.r1.channels = c1 c2
a1.sources.r1.interceptors = i1
a1.sources.r1.interceptors.i1.type = timestamp
a1.channels.c1.type = memory
a1.channels.c1.capacity = 1000
a1.channels.c2.type = memory
a1.channels.c2.capacity = 1000
a1.sinks.k1.type = null
a1.sinks.k1.channel = c1
a1.sinks.k2.type = avro
a1.sinks.k2.hostname = 127.0.0.1
a1.sinks.k2.port = 9
a1.sinks.k2.channel = c2
a1.sinks.k3.type = avro
a1.sinks.k3.hostname = 127.0.0.1
a1.sinks.k3.port = 9
a1.sinks.k3.channel = c2
`;
const COMPONENTS = ['SOURCE.r1', 'INTERCEPTOR.i1', 'SELECTOR.r1', 'CHANNEL.c1', 'CHANNEL.c2', 'SINK.g1', 'SINK.k1', 'SINK.k2', 'SINK.k3'];

describe.skipIf(chromium.skip)(`the topology page in Chromium${chromium.note}`, () => {
  const tmp = scratch('rxflume-monitor-page-');
  let agent: RunningCli;
  let browser: Browser;
  let page: Page;
  let base: string;
  let sourcePort: string;
  let file: string;
  const requested: string[] = [];

  beforeAll(async () => {
    buildDist();
    file = tmp.write('agent.properties', config);
    agent = startCli(['agent', '-n', 'a1', '-f', file, '--monitor-port', '0', '--log-format', 'json', '--reload-interval', '0.2', '--drain-timeout', '1']);
    await agent.waitFor(/"msg":"agent started"/, 30_000);
    base = `http://127.0.0.1:${/"port":(\d+),"bind"/.exec(agent.output())![1]}`;
    sourcePort = /source r1 listening on 127\.0\.0\.1:(\d+)/.exec(agent.output())![1]!;
    browser = await launchChromium();
    page = await browser.newPage();
    page.on('request', (r) => requested.push(r.url()));
    await page.setViewport({ width: 1280, height: 720 });
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await agent?.stop();
    tmp.cleanup();
  });

  /** Posts `events` in requests of 100 (the channels' transactionCapacity). */
  const post = async (events: number) => {
    for (let sent = 0; sent < events; sent += 100) {
      const body = JSON.stringify(Array.from({ length: 100 }, (_, i) => ({ headers: {}, body: `e${sent + i}` })));
      const res = await fetch(`http://127.0.0.1:${sourcePort}/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      expect(res.status, await res.text()).toBe(200);
    }
  };

  it('draws every component, labelled and reachable by keyboard, with nothing loaded from elsewhere', async () => {
    await page.goto(`${base}/`, { waitUntil: 'load' });
    const ids = await page.$$eval('svg.topology .node', (nodes) => nodes.map((n) => n.getAttribute('data-id')));
    expect([...ids].sort()).toEqual([...COMPONENTS].sort());
    expect(await page.$$eval('svg.topology .edge', (e) => e.length)).toBe(8);
    await page.waitForFunction(() => document.getElementById('connection')?.textContent === 'live');
    // The first payload has been drawn (the stream sends the latest one as it opens).
    await page.waitForFunction(() => document.body.getAttribute('data-updated') !== null);
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.getAttribute('data-id'))).toBe('SOURCE.r1');
    expect(await page.evaluate(() => document.activeElement?.getAttribute('aria-label'))).toMatch(/^source r1 \(http\)/);
    expect(await page.$eval('#config', (e) => e.textContent)).toMatch(/agent\.properties$/);
    for (const url of requested) expect(url.startsWith(`${base}/`), url).toBe(true);
  }, 60_000);

  it('shows rates moving, c2 filling under its failing sinks and the group failing, live', async () => {
    // Empty before anything is posted (waited for: the fill comes with the first reading of the channel's
    // counters, which a loaded machine can deliver a payload after the first).
    await page.waitForFunction(() => document.querySelector('.node[data-id="CHANNEL.c2"]')?.getAttribute('data-fill') === '0.0', { timeout: 20_000 });
    await post(300);
    // c1 drains to k1: its out rate shows for a second, in the table and on the node.
    await page.waitForFunction(() => Number(document.querySelector('#components tr[data-id="SINK.k1"] td:nth-child(4)')?.textContent) > 0, { polling: 'mutation', timeout: 20_000 });
    await page.waitForFunction(() => document.querySelector('.node[data-id="CHANNEL.c2"]')?.getAttribute('data-fill') === '30.0', { timeout: 20_000 });
    await post(500);
    await page.waitForFunction(() => document.querySelector('.node[data-id="CHANNEL.c2"]')?.getAttribute('data-fill') === '80.0', { timeout: 20_000 });
    expect(await page.$eval('.node[data-id="CHANNEL.c2"] .bar', (b) => b.getAttribute('class'))).toBe('bar warn');
    expect(await page.$eval('.node[data-id="CHANNEL.c1"]', (n) => n.getAttribute('data-fill'))).toBe('0.0');
    await page.waitForFunction(() => document.querySelector('.node[data-id="SINK.g1"]')?.classList.contains('failing'), { timeout: 20_000 });
    expect(await page.$eval('.node[data-id="SINK.g1"]', (n) => n.getAttribute('aria-label'))).toMatch(/^sink group g1 \(failover\): .*errors, failing$/);
    await page.waitForFunction(() => (document.querySelector('#warnings')?.textContent ?? '').includes('ECONNREFUSED'), { timeout: 20_000 });
    // The sparkline of c2 has points once two samples came.
    expect((await page.$eval('.node[data-id="CHANNEL.c2"] .spark', (s) => s.getAttribute('points')))!.split(' ').length).toBeGreaterThan(1);

    const shot = testOutput('monitor-topology.png');
    await page.screenshot({ path: shot, fullPage: true });
    if (process.env['RXFLUME_UPDATE_SCREENSHOT'] === '1') copyFileSync(shot, join(root, 'docs/images/topology.png'));
    await page.emulateMediaFeatures([{ name: 'prefers-color-scheme', value: 'dark' }]);
    const dark = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    await page.emulateMediaFeatures([{ name: 'prefers-color-scheme', value: 'light' }]);
    expect(dark).not.toBe(await page.evaluate(() => getComputedStyle(document.body).backgroundColor));
    await page.screenshot({ path: testOutput('monitor-topology-light.png'), fullPage: true });
  }, 90_000);

  it('shows a refused reload with its error, and redraws the graph when a reload changes the topology', async () => {
    writeFileSync(file, config.replace('a1.channels.c1.capacity = 1000', 'a1.channels.c1.capacity = lots'));
    await page.waitForFunction(() => (document.getElementById('reload')?.textContent ?? '').includes('refused'), { timeout: 20_000 });
    expect(await page.$eval('#reload', (e) => e.textContent)).toMatch(/refused: .*a1\.channels\.c1\.capacity: expected number, received "lots"/);
    writeFileSync(file, `${config.replace('a1.sinks = k1 k2 k3', 'a1.sinks = k1 k2 k3 k4')}a1.sinks.k4.type = null\na1.sinks.k4.channel = c1\n`);
    await page.waitForSelector('.node[data-id="SINK.k4"]', { timeout: 20_000 });
    await page.waitForFunction(() => (document.getElementById('reload')?.textContent ?? '').endsWith('applied'), { timeout: 20_000 });
  }, 60_000);
});
