// The page in headless Chromium against a real Pebble: the test plays the person, from the form through the TXT
// records and Verify to fullchain.pem, which openssl must verify against Pebble's root.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { startPebble, type Pebble } from '../_pebble.ts';
import {
  download, extendDirectoryMeta, fillSetup, signedPayloads, openPage, publishRecords, readRecords, screenshot, startDohStub, startWebPage, summaryValue, verifyWithOpenssl,
  type DohStub, type WebPage,
} from '../_web.ts';
import { parseCertificateChain } from '../../core/x509.ts';

let pebble: Pebble;
let web: WebPage;
let doh: DohStub;
let dir: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'web-issue-'));
  // No reuse of earlier authorizations: every order must show its records.
  [pebble, web, doh] = await Promise.all([startPebble({ env: { PEBBLE_AUTHZREUSE: '0' } }), startWebPage(), startDohStub()]);
});

after(async () => {
  await Promise.all([web?.close(), pebble?.stop(), doh?.close()]);
  rmSync(dir, { recursive: true, force: true });
});

async function withContext(fn: (context: BrowserContext) => Promise<void>): Promise<void> {
  const context = await web.newContext();
  try {
    await fn(context);
  } finally {
    await context.close();
  }
}

async function waitForResult(page: Page): Promise<void> {
  await page.getByRole('link', { name: 'Download fullchain.pem' }).waitFor();
}

/** Pebble's VA reads the records from challtestsrv; DoH stays off unless the test checks it. */
async function issueWithoutDnsCheck(page: Page, domains: string, count: number, name: string): Promise<void> {
  await fillSetup(page, { directoryUrl: pebble.directoryUrl, domains, doh: false });
  await page.getByRole('button', { name: 'Create order' }).click();
  await publishRecords(pebble, await readRecords(page, count));
  await screenshot(page, `${name}-records`);
  await page.getByRole('button', { name: 'Verify' }).click();
  await waitForResult(page);
  await screenshot(page, `${name}-result`);
}

function sans(pem: string): string[] {
  const [leaf] = parseCertificateChain(pem);
  return [...leaf!.dnsNames].sort();
}

function publicKeyOf(args: string[], input: string): string {
  return execFileSync('openssl', args, { input, encoding: 'utf8' });
}

test('issues a certificate for two names: records, live DNS check, Verify, a fullchain.pem that openssl verifies', async () => {
  await withContext(async (context) => {
    const requested: string[] = [];
    context.on('request', (request) => requested.push(request.url()));
    const { page, errors } = await openPage(context, web.url);
    await screenshot(page, 'web-1-setup-empty');
    await fillSetup(page, { directoryUrl: pebble.directoryUrl, domains: 'www.example.com, example.com', email: 'person@example.com', doh: doh.url });
    const directory = (await (await pebble.fetch(pebble.directoryUrl)).json()) as { meta: { termsOfService: string } };
    const terms = page.locator('#directory-info a');
    await terms.waitFor();
    assert.equal(await terms.getAttribute('href'), directory.meta.termsOfService);
    await screenshot(page, 'web-2-setup-filled');

    await page.getByRole('button', { name: 'Create order' }).click();
    const records = await readRecords(page, 2);
    assert.deepEqual(records.map((record) => record.name).sort(), ['_acme-challenge.example.com', '_acme-challenge.www.example.com']);
    for (const { value } of records) assert.match(value, /^[A-Za-z0-9_-]{43}$/);
    await page.locator('#records-table .badge', { hasText: 'not yet' }).nth(1).waitFor();
    await screenshot(page, 'web-3-records-not-yet');

    await publishRecords(pebble, records, doh);
    await page.waitForFunction(() => [...document.querySelectorAll('#records-table .badge')].every((badge) => badge.textContent === 'found'));
    await screenshot(page, 'web-4-records-found');

    await page.getByRole('button', { name: 'Verify' }).click();
    await waitForResult(page);
    await screenshot(page, 'web-5-result');

    const fullchain = await download(page, 'Download fullchain.pem', dir);
    assert.equal(fullchain.fileName, 'fullchain.pem');
    assert.match(await verifyWithOpenssl(pebble, fullchain.text, dir), /leaf\.pem: OK/);
    assert.deepEqual(sans(fullchain.text), ['example.com', 'www.example.com']);
    const privkey = await download(page, 'Download privkey.pem', dir);
    assert.equal(publicKeyOf(['pkey', '-pubout'], privkey.text), publicKeyOf(['x509', '-noout', '-pubkey'], fullchain.text));
    assert.match((await download(page, 'Download the account key', dir)).text, /^-----BEGIN PRIVATE KEY-----/);
    for (const state of await page.locator('#authorizations .badge').allTextContents()) assert.equal(state, 'valid');
    assert.match(await summaryValue(page, 'Names'), /example\.com/);

    // With WebCrypto at hand, neither fallback engine is ever fetched.
    assert.deepEqual(requested.filter((url) => /engine-(noble|node-rsa)|index\.browser/.test(url)), []);
    // Nothing went anywhere but the page's own host, the CA and the DoH resolver (blob: URLs are the downloads).
    const allowed = new Set([new URL(web.url).origin, new URL(pebble.directoryUrl).origin, new URL(doh.url).origin]);
    assert.deepEqual(requested.filter((url) => !url.startsWith('blob:') && !allowed.has(new URL(url).origin)), []);
    assert.deepEqual(errors, []);
  });
});

test('a wildcard and its base name: two values under one TXT name, a warning while the resolver lacks them, by keyboard', async () => {
  await withContext(async (context) => {
    const { page } = await openPage(context, web.url);
    await fillSetup(page, { directoryUrl: pebble.directoryUrl, domains: 'wild.example.com\n*.wild.example.com', doh: doh.url });
    await page.getByRole('button', { name: 'Create order' }).focus();
    await page.keyboard.press('Enter');
    const records = await readRecords(page, 2);
    assert.deepEqual(records.map((record) => record.name), ['_acme-challenge.wild.example.com', '_acme-challenge.wild.example.com']);
    assert.notEqual(records[0]!.value, records[1]!.value);
    await page.getByRole('table').getByText('for *.wild.example.com').waitFor();
    // Focus follows the work: the Records heading is announced once the order exists.
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'records-title');

    // The CA sees the records, the resolver not yet: the first Verify warns instead of spending the order.
    await publishRecords(pebble, records);
    await page.locator('#records-table .badge', { hasText: 'not yet' }).nth(1).waitFor();
    await page.getByRole('button', { name: 'Verify' }).focus();
    await page.keyboard.press('Enter');
    await page.locator('#verify-status', { hasText: 'Not yet visible over DNS: _acme-challenge.wild.example.com.' }).waitFor();
    await screenshot(page, 'web-wildcard-not-yet');
    assert.equal(await page.getByRole('button', { name: 'Verify' }).isEnabled(), true);
    await page.keyboard.press('Enter');
    await waitForResult(page);
    await screenshot(page, 'web-wildcard-result');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'result-title');
    const fullchain = await download(page, 'Download fullchain.pem', dir);
    assert.match(await verifyWithOpenssl(pebble, fullchain.text, dir), /OK/);
    assert.deepEqual(sans(fullchain.text), ['*.wild.example.com', 'wild.example.com']);
  });
});

test('a wrong TXT value: the CA\'s own detail for that name appears on the page', async () => {
  await withContext(async (context) => {
    const { page } = await openPage(context, web.url);
    // What the CA said, read from its answers to the page, so the test does not guess Pebble's wording.
    const details: string[] = [];
    page.on('response', async (response) => {
      if (!(response.headers()['content-type'] ?? '').includes('json')) return;
      const body = await response.json().catch(() => undefined) as { challenges?: { error?: { detail?: string } }[] } | undefined;
      for (const challenge of body?.challenges ?? []) if (challenge.error?.detail) details.push(challenge.error.detail);
    });
    await fillSetup(page, { directoryUrl: pebble.directoryUrl, domains: 'wrong.example.com', doh: false });
    await page.getByRole('button', { name: 'Create order' }).click();
    const [record] = await readRecords(page, 1);
    await pebble.setTxt(record!.name, 'this-is-not-the-key-authorization-digest');
    await page.getByRole('button', { name: 'Verify' }).click();
    const alert = page.locator('#verify-error');
    await alert.waitFor();
    await screenshot(page, 'web-wrong-txt');
    assert.ok(details.length > 0, 'the CA reported no challenge error');
    const item = page.locator('#authorizations li', { hasText: 'wrong.example.com' });
    assert.equal(await item.locator('.badge').textContent(), 'invalid');
    assert.ok((await item.locator('.detail').textContent())!.includes(details[0]!), `the page lacks the CA's detail "${details[0]}"`);
    const message = (await alert.textContent())!;
    assert.ok(message.includes('wrong.example.com') && message.includes(details[0]!), message);
    assert.equal(await page.getByRole('link', { name: 'Download fullchain.pem' }).count(), 0);
    // The person can fix the record and start again.
    assert.equal(await page.getByRole('button', { name: 'Create order' }).isEnabled(), true);
  });
});

test('a pasted CSR: names come from it, no privkey.pem is offered, and the certificate is for its key', async () => {
  const keyPath = join(dir, 'csr-key.pem');
  const csr = execFileSync('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyPath,
    '-subj', '/CN=csr.example.com', '-addext', 'subjectAltName=DNS:csr.example.com,DNS:www.csr.example.com'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  await withContext(async (context) => {
    const { page } = await openPage(context, web.url);
    await fillSetup(page, { directoryUrl: pebble.directoryUrl, domains: '', csr, doh: false });
    await screenshot(page, 'web-csr-setup');
    await page.getByRole('button', { name: 'Create order' }).click();
    await publishRecords(pebble, await readRecords(page, 2));
    await page.getByRole('button', { name: 'Verify' }).click();
    await waitForResult(page);
    await screenshot(page, 'web-csr-result');
    assert.equal(await page.getByRole('link', { name: 'Download privkey.pem' }).count(), 0);
    const fullchain = await download(page, 'Download fullchain.pem', dir);
    assert.match(await verifyWithOpenssl(pebble, fullchain.text, dir), /OK/);
    assert.deepEqual(sans(fullchain.text), ['csr.example.com', 'www.csr.example.com']);
    assert.equal(publicKeyOf(['pkey', '-pubout'], readFileSync(keyPath, 'utf8')), publicKeyOf(['x509', '-noout', '-pubkey'], fullchain.text));
  });
});

test('the account key kept in IndexedDB is picked up on the next visit and finds the same account', async () => {
  await withContext(async (context) => {
    const { page } = await openPage(context, web.url);
    await issueWithoutDnsCheck(page, 'first.example.com', 1, 'web-account-first');
    const firstAccount = await summaryValue(page, 'Account');
    assert.match(firstAccount, /^https:\/\/127\.0\.0\.1:\d+\//);

    const { page: again } = await openPage(context, web.url);
    await again.getByLabel('Directory URL').fill(pebble.directoryUrl);
    await again.getByLabel('Directory URL').press('Tab');
    const stored = again.getByLabel(/Use the key kept in this browser/);
    await stored.waitFor();
    assert.equal(await stored.isChecked(), true);
    await screenshot(again, 'web-account-stored');
    await issueWithoutDnsCheck(again, 'second.example.com', 1, 'web-account-second');
    assert.equal(await summaryValue(again, 'Account'), firstAccount);
  });
});

test('an imported P-384 account key (as openssl writes it) orders, then revokes with a reason: Pebble reports it revoked', async () => {
  const accountPem = execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384'], { encoding: 'utf8' });
  await withContext(async (context) => {
    const { page } = await openPage(context, web.url);
    const accounts = signedPayloads(page, /\/sign-me-up$/);
    await page.getByLabel('Import a key').check();
    await page.getByLabel('Account key (PEM or JWK)').fill(accountPem);
    await issueWithoutDnsCheck(page, 'revoke.example.com', 1, 'web-revoke-account');
    assert.equal(accounts.length, 1);
    // The account key the page offers back is the one imported.
    const offered = (await download(page, 'Download the account key', dir)).text;
    assert.equal(publicKeyOf(['pkey', '-pubout'], offered), publicKeyOf(['pkey', '-pubout'], accountPem));
    const certificate = await download(page, 'Download cert.pem', dir);
    const [leaf] = parseCertificateChain(certificate.text);
    await page.getByLabel('Certificate to revoke (PEM)').fill(certificate.text);
    await page.getByLabel('Reason').selectOption({ label: 'Key compromise' });
    await page.getByRole('button', { name: 'Revoke', exact: true }).click();
    await page.locator('#revoke-status', { hasText: 'Revoked' }).waitFor();
    await screenshot(page, 'web-revoke-account-done');
    const status = await pebble.certStatus(leaf!.serialHex);
    assert.equal(status.Status, 'Revoked');
  });
});

test('revocation signed by the certificate key, from a fresh page with no account', async () => {
  let certificatePem = '';
  let keyPem = '';
  await withContext(async (context) => {
    const { page } = await openPage(context, web.url);
    await issueWithoutDnsCheck(page, 'revoke-key.example.com', 1, 'web-revoke-key');
    certificatePem = (await download(page, 'Download cert.pem', dir)).text;
    keyPem = (await download(page, 'Download privkey.pem', dir)).text;
  });
  await withContext(async (context) => {
    const { page } = await openPage(context, web.url);
    await page.getByLabel('Directory URL').fill(pebble.directoryUrl);
    await page.getByLabel('Certificate to revoke (PEM)').fill(certificatePem);
    await page.getByLabel('Reason').selectOption({ label: 'Superseded' });
    await page.getByLabel('the certificate\'s own private key').check();
    await page.getByLabel('Certificate private key (PEM)').fill(keyPem);
    await page.getByRole('button', { name: 'Revoke', exact: true }).click();
    await page.locator('#revoke-status', { hasText: 'Revoked' }).waitFor();
    await screenshot(page, 'web-revoke-key-done');
  });
  const [leaf] = parseCertificateChain(certificatePem);
  assert.equal((await pebble.certStatus(leaf!.serialHex)).Status, 'Revoked');
});

test('without crypto.subtle (plain http, not localhost) the page says it uses the fallback engine and still issues with an EC key', async () => {
  await withContext(async (context) => {
    const requested: string[] = [];
    context.on('request', (request) => requested.push(request.url()));
    const { page, errors } = await openPage(context, web.insecureUrl);
    assert.equal(await page.evaluate(() => globalThis.isSecureContext || typeof globalThis.crypto?.subtle !== 'undefined'), false);
    const note = page.getByRole('note');
    assert.match((await note.textContent())!, /fallback engine[\s\S]*https/);
    await screenshot(page, 'web-insecure-setup');
    await issueWithoutDnsCheck(page, 'insecure.example.com', 1, 'web-insecure');
    const fullchain = await download(page, 'Download fullchain.pem', dir);
    assert.match(await verifyWithOpenssl(pebble, fullchain.text, dir), /OK/);
    const privkey = await download(page, 'Download privkey.pem', dir);
    assert.match(execFileSync('openssl', ['pkey', '-noout', '-text'], { input: privkey.text, encoding: 'utf8' }), /NIST CURVE: P-256/);
    assert.ok(requested.some((url) => url.includes('engine-noble')), 'the noble engine was not loaded');
    assert.deepEqual(errors, []);
  });
});

test('terms not ticked: the order stops before any account, naming the CA\'s terms', async () => {
  await withContext(async (context) => {
    const { page } = await openPage(context, web.url);
    const accounts = signedPayloads(page, /\/sign-me-up$/);
    await fillSetup(page, { directoryUrl: pebble.directoryUrl, domains: 'terms.example.com', doh: false, agree: false });
    await page.getByRole('button', { name: 'Create order' }).click();
    const alert = page.locator('#setup-error');
    await alert.waitFor();
    assert.match((await alert.textContent())!, /^The CA asks you to agree to its terms of service first: read data:/);
    assert.deepEqual(accounts, []);
    assert.equal(await page.getByRole('table').locator('tbody tr').count(), 0);
  });
});

test('a rate limit as Let\'s Encrypt sends it: Retry-After hidden from the page by CORS, the time read from the detail', async () => {
  await withContext(async (context) => {
    const { page } = await openPage(context, web.url);
    const retryAfter = new Date(Math.floor(Date.now() / 1000) * 1000 + 3 * 3600_000);
    const boulderTime = `${retryAfter.toISOString().slice(0, 10)} ${retryAfter.toISOString().slice(11, 19)} UTC`;
    // Pebble has no rate limits; its newOrder answers 429 here with Boulder's headers, which expose no Retry-After.
    await page.route(/\/order-plz$/, (route) => route.fulfill({
      status: 429,
      headers: {
        'content-type': 'application/problem+json',
        'retry-after': retryAfter.toUTCString(),
        'access-control-allow-origin': '*',
        'access-control-expose-headers': 'Link, Replay-Nonce, Location',
      },
      body: JSON.stringify({ type: 'urn:ietf:params:acme:error:rateLimited', status: 429,
        detail: `too many new orders (300) in the last 3h0m0s, retry after ${boulderTime}: see https://letsencrypt.org/docs/rate-limits/` }),
    }));
    await fillSetup(page, { directoryUrl: pebble.directoryUrl, domains: 'limited.example.com', doh: false });
    await page.getByRole('button', { name: 'Create order' }).click();
    const alert = page.locator('#setup-error');
    await alert.waitFor();
    await screenshot(page, 'web-rate-limited');
    const message = (await alert.textContent())!;
    assert.match(message, /^The CA is limiting requests like this one: too many new orders \(300\)/);
    assert.ok(message.includes(`Try again after `) && message.includes(`(${retryAfter.toISOString().slice(0, 16).replace('T', ' ')} UTC)`), message);
  });
});

test('the profile picker lists the CA\'s profiles with their descriptions, and newOrder carries the one picked', async () => {
  await withContext(async (context) => {
    const { page } = await openPage(context, web.url);
    await extendDirectoryMeta(page, { profiles: { classic: 'The usual 90-day certificate', shortlived: 'Valid for 160 hours' } });
    const orders = signedPayloads(page, /\/order-plz$/);
    await fillSetup(page, { directoryUrl: pebble.directoryUrl, domains: 'profile.example.com', doh: false });
    const picker = page.getByLabel('Profile');
    await picker.waitFor();
    assert.deepEqual(await picker.locator('option').allTextContents(), ['The CA\'s default', 'classic: The usual 90-day certificate', 'shortlived: Valid for 160 hours']);
    await picker.selectOption('shortlived');
    await screenshot(page, 'web-profile-picker');
    await page.getByRole('button', { name: 'Create order' }).click();
    await readRecords(page, 1);
    assert.deepEqual(orders, [{ identifiers: [{ type: 'dns', value: 'profile.example.com' }], profile: 'shortlived' }]);
  });
});

test('CAA pre-check over DoH: a record for another CA stops the order before it exists, naming the record', async () => {
  await withContext(async (context) => {
    const { page } = await openPage(context, web.url);
    await extendDirectoryMeta(page, { caaIdentities: ['pebble.example'] });
    const orders = signedPayloads(page, /\/order-plz$/);
    doh.setCaa('caa.example.com', '0 issue "other-ca.example"');
    await fillSetup(page, { directoryUrl: pebble.directoryUrl, domains: 'www.caa.example.com', doh: doh.url });
    await page.getByRole('button', { name: 'Create order' }).click();
    const alert = page.locator('#setup-error');
    await alert.waitFor();
    await screenshot(page, 'web-caa-refused');
    const message = (await alert.textContent())!;
    assert.ok(message.includes('other-ca.example') && message.includes('caa.example.com') && message.includes('www.caa.example.com'), message);
    assert.deepEqual(orders, []);
  });
});
