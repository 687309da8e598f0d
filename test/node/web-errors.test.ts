// The page's messages for what goes wrong before any certificate: a CA that withholds CORS headers (as ZeroSSL
// does), a CA that does not answer, and bad input (names, CSR, imported key), each refused before any request.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { serveStatic, type StaticServer } from '../_chromium.ts';
import { freePort } from '../_pebble.ts';
import { fillSetup, openPage, screenshot, startWebPage, type WebPage } from '../_web.ts';

let web: WebPage;
let noCorsCa: StaticServer;
let dir: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'web-errors-'));
  // A directory served without Access-Control-Allow-Origin: the browser hides the answer from the page.
  const base = 'http://127.0.0.1';
  writeFileSync(join(dir, 'directory'), JSON.stringify({ newNonce: `${base}/nonce`, newAccount: `${base}/account`, newOrder: `${base}/order` }));
  [web, noCorsCa] = await Promise.all([startWebPage(), serveStatic(dir)]);
});

after(async () => {
  await Promise.all([web?.close(), noCorsCa?.close()]);
  rmSync(dir, { recursive: true, force: true });
});

/** Opens a fresh page, fills the form, presses Create order and returns the alert's text. */
async function createOrderError(setup: Parameters<typeof fillSetup>[1], prepare?: (page: Page) => Promise<void>, name?: string): Promise<{ message: string; caRequests: string[] }> {
  const context = await web.newContext();
  try {
    const { page, errors } = await openPage(context, web.url);
    await fillSetup(page, setup);
    await prepare?.(page);
    // Leaving the Directory URL field reads the CA's terms; what counts is what Create order sends.
    await page.waitForFunction(() => !document.getElementById('directory-info')!.textContent!.includes('Reading'));
    const caRequests: string[] = [];
    context.on('request', (request) => {
      if (!request.url().startsWith(web.url)) caRequests.push(request.url());
    });
    await page.getByRole('button', { name: 'Create order' }).click();
    const alert = page.locator('#setup-error');
    await alert.waitFor();
    if (name) await screenshot(page, name);
    assert.deepEqual(errors, []);
    return { message: (await alert.textContent())!, caRequests };
  } finally {
    await context.close();
  }
}

test('a CA without CORS headers: the page says it does not allow browsers, and names ZeroSSL', async () => {
  const directoryUrl = `${noCorsCa.url}directory`;
  const { message } = await createOrderError({ directoryUrl, domains: 'example.com', doh: false }, undefined, 'web-error-no-cors');
  assert.match(message, new RegExp(`The CA at 127\\.0\\.0\\.1:${noCorsCa.port} answered, but it does not allow web pages to use it`));
  assert.match(message, /ZeroSSL/);
});

test('the terms link shows the same CORS explanation when the directory cannot be read', async () => {
  const context = await web.newContext();
  try {
    const { page } = await openPage(context, web.url);
    await page.getByLabel('Directory URL').fill(`${noCorsCa.url}directory`);
    await page.getByLabel('Directory URL').press('Tab');
    await page.locator('#directory-info', { hasText: 'does not allow web pages' }).waitFor();
  } finally {
    await context.close();
  }
});

test('a CA that does not answer: the page says it cannot reach it', async () => {
  const port = await freePort();
  const { message } = await createOrderError({ directoryUrl: `http://127.0.0.1:${port}/directory`, domains: 'example.com', doh: false });
  assert.match(message, new RegExp(`^Cannot reach the CA at 127\\.0\\.0\\.1:${port}: no answer came back`));
});

test('a directory URL over plain http to a public host is refused before any request', async () => {
  const { message, caRequests } = await createOrderError({ directoryUrl: 'http://ca.example/directory', domains: 'example.com', doh: false });
  assert.match(message, /^Cannot use directory URL http:\/\/ca\.example\/directory: ACME requires https unless the host is loopback/);
  assert.deepEqual(caRequests, []);
});

test('an invalid name is refused, named, before any request to the CA', async () => {
  const { message, caRequests } = await createOrderError({ directoryUrl: 'https://127.0.0.1:9/directory', domains: 'good.example.com, bad_name.example.com', doh: false },
    undefined, 'web-error-invalid-name');
  assert.match(message, /^Invalid name "bad_name\.example\.com": character "_" is not allowed in a DNS name/);
  assert.deepEqual(caRequests, []);
});

test('no names at all is refused', async () => {
  const { message } = await createOrderError({ directoryUrl: 'https://127.0.0.1:9/directory', domains: ' , ', doh: false });
  assert.equal(message, 'No names given: enter the domains for the certificate');
});

test('a CSR field without a CSR is refused with the PEM reason', async () => {
  const { message, caRequests } = await createOrderError({ directoryUrl: 'https://127.0.0.1:9/directory', domains: '', csr: 'not a certificate request', doh: false });
  assert.equal(message, 'Cannot parse PEM: no "-----BEGIN" line');
  assert.deepEqual(caRequests, []);
});

test('an imported account key that is not a key is refused, naming what was found', async () => {
  const { message } = await createOrderError({ directoryUrl: 'https://127.0.0.1:9/directory', domains: 'example.com', doh: false }, async (page) => {
    await page.getByLabel('Import a key').check();
    await page.getByLabel('Account key (PEM or JWK)').fill('-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n');
  });
  assert.match(message, /^Cannot import key: found .*CERTIFICATE.*, expected a private key/);
});

test('an IP address is refused: dns-01 cannot validate one (RFC 8738)', async () => {
  const { message, caRequests } = await createOrderError({ directoryUrl: 'https://127.0.0.1:9/directory', domains: 'example.com 192.0.2.10', doh: false });
  assert.match(message, /^Cannot validate 192\.0\.2\.10 over DNS: an IP address has no name to hold a TXT record/);
  assert.match(message, /Let's Encrypt issues for IP addresses only under its shortlived profile/);
  assert.deepEqual(caRequests, []);
});
