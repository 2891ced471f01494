/**
 * Debian's headless Chromium for the browser tests, driven by puppeteer-core (which downloads no
 * browser): `apt-get install chromium`, or CHROMIUM_PATH naming another executable.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import puppeteer, { type Browser } from 'puppeteer-core';
import { root } from './examples.js';
import { toolEnv } from './keytool.js';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

export const chromiumPath = process.env['CHROMIUM_PATH'] ?? CANDIDATES.find((p) => existsSync(p));

/** describe.skipIf(chromium.skip): skipped without Chromium, failing instead under RXFLUME_CI=1. */
export const chromium = toolEnv(chromiumPath ? undefined : `no Chromium (apt-get install chromium, or set CHROMIUM_PATH)`);

/** A headless Chromium; close it in the test's teardown. */
export function launchChromium(): Promise<Browser> {
  if (!chromiumPath) throw new Error('no Chromium: apt-get install chromium, or set CHROMIUM_PATH');
  return puppeteer.launch({
    executablePath: chromiumPath,
    headless: true,
    // Root in a container has no user namespace for Chromium's sandbox; the pages tested are our own.
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'],
  });
}

/** Where tests leave what a person may want to look at (screenshots): RXFLUME_TEST_OUTPUT, else .ci/results (ignored by git). */
export function testOutput(...parts: string[]): string {
  const dir = process.env['RXFLUME_TEST_OUTPUT'] ?? join(root, '.ci', 'results');
  mkdirSync(dir, { recursive: true });
  return join(dir, ...parts);
}
