// Shared by the web page tests (Node only): the built page served on loopback, a Chromium that also reaches it
// under a name that is not localhost (an insecure context), a DoH stub the tests fill, and steps that play the person.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join, resolve } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium, serveStatic, type StaticServer } from './_chromium.ts';
import type { Pebble } from './_pebble.ts';

const ROOT = resolve(import.meta.dirname, '..');
export const WEB_DIST = join(ROOT, 'dist/web');
export const SCREENSHOTS = join(ROOT, 'test-output/screenshots');
/** Resolved to 127.0.0.1 by Chromium's host rules: plain http there is not a secure context, so no crypto.subtle. */
export const INSECURE_HOST = 'acme-page.test';

function newestMtime(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((entry) => newestMtime(join(path, entry))));
}

/**
 * `npm test` builds before the tests run. A lone run of a web test builds the page (only the page, so the CLI that
 * other tests run stays in place) when dist/web is missing or older than its sources, so it never tests a stale page.
 */
export function ensureWebBuild(): void {
  const built = join(WEB_DIST, 'app.js');
  const sources = ['web', 'core', 'adapters/browser.ts'].map((path) => newestMtime(join(ROOT, path)));
  if (existsSync(built) && statSync(built).mtimeMs >= Math.max(...sources)) return;
  execFileSync(process.execPath, ['--import', 'tsx', 'build.ts', '--web'], { cwd: ROOT, stdio: 'ignore' });
}

/** A DoH JSON API on loopback answering TXT and CAA questions from what the test set, so no public resolver is asked. */
export interface DohStub {
  url: string;
  set(name: string, value: string): void;
  /** A CAA record in presentation form, e.g. `0 issue "ca.example"` (RFC 8659 §4.1.1). */
  setCaa(name: string, data: string): void;
  close(): Promise<void>;
}

const DNS_TYPES: Record<string, number> = { TXT: 16, CAA: 257 };

export function startDohStub(): Promise<DohStub> {
  const records = new Map<string, { type: number; data: string }[]>();
  const add = (name: string, type: number, data: string) => records.set(name, [...(records.get(name) ?? []), { type, data }]);
  const server = createServer((request, response) => {
    const query = new URL(request.url ?? '/', 'http://stub').searchParams;
    const name = (query.get('name') ?? '').replace(/\.$/, '');
    const type = DNS_TYPES[query.get('type') ?? ''];
    const answers = (records.get(name) ?? []).filter((record) => record.type === type);
    // NXDOMAIN for a name the test never set, NOERROR (possibly without answers) otherwise.
    const body = { Status: records.has(name) ? 0 : 3, Answer: answers.map((record) => ({ name: `${name}.`, TTL: 60, ...record })) };
    response.writeHead(200, { 'content-type': 'application/dns-json', 'access-control-allow-origin': '*' }).end(JSON.stringify(body));
  });
  return new Promise((resolveStub, reject) => {
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      resolveStub({
        url: `http://127.0.0.1:${port}/dns-query`,
        set: (name, value) => add(name, DNS_TYPES.TXT!, `"${value}"`),
        setCaa: (name, data) => add(name, DNS_TYPES.CAA!, data),
        close: () => new Promise((done) => server.close(() => done())),
      });
    });
  });
}

export interface WebPage {
  server: StaticServer;
  browser: Browser;
  /** The page at http://127.0.0.1:PORT/, a secure context. */
  url: string;
  /** The same page at http://acme-page.test:PORT/, which is not. */
  insecureUrl: string;
  newContext(): Promise<BrowserContext>;
  close(): Promise<void>;
}

export async function startWebPage(): Promise<WebPage> {
  ensureWebBuild();
  mkdirSync(SCREENSHOTS, { recursive: true });
  const server = await serveStatic(WEB_DIST);
  const browser = await launchChromium([`--host-resolver-rules=MAP ${INSECURE_HOST} 127.0.0.1`]);
  return {
    server,
    browser,
    url: server.url,
    insecureUrl: `http://${INSECURE_HOST}:${server.port}/`,
    // Pebble's TLS certificate is a throwaway one that Chromium cannot know.
    async newContext() {
      const context = await browser.newContext({ ignoreHTTPSErrors: true, acceptDownloads: true, viewport: { width: 1000, height: 900 } });
      // Playwright's 30 s default was hit once while Chromium, Pebble and Deno shared two busy cores; a bound, not a wait.
      context.setDefaultTimeout(90_000);
      return context;
    },
    async close() {
      await browser.close();
      await server.close();
    },
  };
}

/** Opens the page and waits until its script has wired the form; page errors fail the test that reads them. */
export async function openPage(context: BrowserContext, url: string): Promise<{ page: Page; errors: string[] }> {
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(url);
  await page.waitForSelector('body[data-ready="true"]');
  return { page, errors };
}

export async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

export interface SetupOptions {
  directoryUrl: string;
  domains?: string;
  email?: string;
  /** The DoH stub's URL, or false to turn the DNS check off. */
  doh: string | false;
  csr?: string;
  agree?: boolean;
}

/** Fills step 1 as a person would, by the accessible names the issue fixes. */
export async function fillSetup(page: Page, options: SetupOptions): Promise<void> {
  await page.getByLabel('Directory URL').fill(options.directoryUrl);
  await page.getByLabel('Directory URL').press('Tab');
  if (options.agree !== false) await page.getByRole('checkbox', { name: /terms/ }).check();
  if (options.email) await page.getByLabel('Email').fill(options.email);
  await page.getByLabel('Domains').fill(options.domains ?? '');
  if (options.csr !== undefined) {
    await page.getByLabel(/Use my certificate signing request/).check();
    await page.getByLabel('CSR (PEM)').fill(options.csr);
  }
  await page.getByText('DNS check', { exact: true }).click();
  const check = page.getByLabel(/Check DNS over DNS-over-HTTPS/);
  if (options.doh === false) {
    await check.uncheck();
  } else {
    await check.check();
    await page.getByLabel('Resolver URL').fill(options.doh);
  }
}

export interface RecordRow { name: string; value: string }

/** The records table as a person reads it: the cells under "Name" and "Value". */
export async function readRecords(page: Page, count: number): Promise<RecordRow[]> {
  const table = page.getByRole('table');
  await table.locator('tbody tr').nth(count - 1).waitFor();
  const headers = await table.getByRole('columnheader').allTextContents();
  const nameColumn = headers.indexOf('Name');
  const valueColumn = headers.indexOf('Value');
  if (nameColumn < 0 || valueColumn < 0) throw new Error(`the records table lacks a Name or Value column: ${headers.join(', ')}`);
  const rows = await table.locator('tbody tr').all();
  if (rows.length !== count) throw new Error(`expected ${count} records, the table shows ${rows.length}`);
  return Promise.all(rows.map(async (row) => ({
    name: (await row.getByRole('cell').nth(nameColumn).locator('code').textContent())!,
    value: (await row.getByRole('cell').nth(valueColumn).locator('code').textContent())!,
  })));
}

/** Creates every record at the CA's DNS server (challtestsrv) and, when given, at the DoH stub. */
export async function publishRecords(pebble: Pebble, records: RecordRow[], doh?: DohStub): Promise<void> {
  for (const { name, value } of records) {
    await pebble.setTxt(name, value);
    doh?.set(name, value);
  }
}

/** Clicks a download link and returns the file's text, saved under `dir`. */
export async function download(page: Page, linkName: string, dir: string): Promise<{ path: string; text: string; fileName: string }> {
  const [event] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: linkName }).click()]);
  const path = join(dir, event.suggestedFilename());
  await event.saveAs(path);
  return { path, text: readFileSync(path, 'utf8'), fileName: event.suggestedFilename() };
}

/** `openssl verify` of the leaf against Pebble's root, with the rest of the downloaded chain as untrusted. */
export async function verifyWithOpenssl(pebble: Pebble, fullchainPem: string, dir: string): Promise<string> {
  const blocks = fullchainPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g) ?? [];
  if (blocks.length < 2) throw new Error(`fullchain.pem holds ${blocks.length} certificates, expected the leaf and its chain`);
  writeFileSync(join(dir, 'root.pem'), await pebble.rootPem());
  writeFileSync(join(dir, 'leaf.pem'), blocks[0]!);
  writeFileSync(join(dir, 'chain.pem'), blocks.slice(1).join(''));
  return execFileSync('openssl', ['verify', '-CAfile', join(dir, 'root.pem'), '-untrusted', join(dir, 'chain.pem'), join(dir, 'leaf.pem')], { encoding: 'utf8' });
}

/** Answers the page's directory GET with Pebble's directory plus extra `meta` fields, as another CA would serve them. */
export async function extendDirectoryMeta(page: Page, meta: Record<string, unknown>): Promise<void> {
  await page.route(/\/dir$/, async (route) => {
    const response = await route.fetch();
    const directory = await response.json();
    await route.fulfill({ response, json: { ...directory, meta: { ...directory.meta, ...meta } } });
  });
}

/**
 * The payloads of the page's signed POSTs to URLs matching `pattern`, decoded from their JWS, each distinct one
 * once: Pebble rejects some nonces on purpose, and the badNonce retry (RFC 8555 §6.5) resends the same payload.
 */
export function signedPayloads(page: Page, pattern: RegExp): unknown[] {
  const payloads: unknown[] = [];
  const seen = new Set<string>();
  page.on('request', (request) => {
    if (request.method() !== 'POST' || !pattern.test(request.url())) return;
    const { payload } = JSON.parse(request.postData() ?? '{}') as { payload?: string };
    const text = payload ? Buffer.from(payload, 'base64url').toString('utf8') : '';
    if (text && !seen.has(text)) {
      seen.add(text);
      payloads.push(JSON.parse(text));
    }
  });
  return payloads;
}

/** The value the result step shows for a term such as "Account" or "Serial". */
export async function summaryValue(page: Page, term: string): Promise<string> {
  return (await page.locator('#certificate-summary dt', { hasText: term }).locator('xpath=following-sibling::dd[1]').textContent()) ?? '';
}
