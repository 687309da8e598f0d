// Runs the runtime-neutral core suite in headless Chromium and reports each case as a node:test case.
import { test } from 'node:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as esbuild from 'esbuild';
import { launchChromium, serveStatic } from '../_chromium.ts';
import type { BrowserTestResult } from '../browser/entry.ts';

async function runInChromium(): Promise<BrowserTestResult[]> {
  const root = mkdtempSync(join(tmpdir(), 'browser-core-'));
  await esbuild.build({
    entryPoints: [join(import.meta.dirname, '../browser/entry.ts')],
    outfile: join(root, 'entry.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    splitting: false,
    logLevel: 'warning',
  });
  writeFileSync(join(root, 'index.html'), '<!doctype html><meta charset="utf-8"><title>core tests</title><script type="module" src="entry.js"></script>');
  const server = await serveStatic(root);
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(server.url);
    await page.waitForFunction(() => 'runCoreTests' in globalThis);
    const results = await page.evaluate(() => (globalThis as unknown as { runCoreTests: () => Promise<BrowserTestResult[]> }).runCoreTests());
    if (pageErrors.length) throw new Error(`page errors: ${pageErrors.join('; ')}`);
    return results;
  } finally {
    await browser.close();
    await server.close();
    rmSync(root, { recursive: true, force: true });
  }
}

const results = await runInChromium();
if (results.length === 0) test('[chromium] the core suite registered tests', () => { throw new Error('no tests ran in Chromium'); });
for (const result of results) {
  test(`[chromium] ${result.name}`, () => {
    if (!result.ok) throw new Error(result.error);
  });
}
