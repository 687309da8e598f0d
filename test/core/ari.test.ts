// ARI (RFC 9773): the certificate identifier against the RFC's example, the window choice, the renewal decision,
// the renewalInfo response checks, and the `replaces` fallback.
import { assert, assertEquals, assertRejects, assertThrows, test } from '../_harness.ts';
import { checkRenewal, fetchRenewalInfo, isReplacesRejected, withReplacesFallback } from '../../core/ari.ts';
import { hexDecode, pemDecode } from '../../core/encoding.ts';
import { AcmeError, UnexpectedResponseError } from '../../core/errors.ts';
import {
  certificateIdentifier, chooseRenewalTime, renewalDecision, renewalTime, stableFraction, type AriCertificate, type RenewalInfo,
} from '../../core/renewal.ts';
import { parseCertificate } from '../../core/x509.ts';
import { readCertificateSummary } from '../../core/_der-lite.ts';
import { FakeCa, type Reply } from './_fake-ca.ts';

// RFC 9773 §4.1's example certificate: AKI 69:88:5B:…:C8:D4, serial 0x87654321 (DER content 00 87 65 43 21).
const RFC9773_CERT = `-----BEGIN CERTIFICATE-----
MIIBQzCB66ADAgECAgUAh2VDITAKBggqhkjOPQQDAjAVMRMwEQYDVQQDEwpFeGFt
cGxlIENBMCIYDzAwMDEwMTAxMDAwMDAwWhgPMDAwMTAxMDEwMDAwMDBaMBYxFDAS
BgNVBAMTC2V4YW1wbGUuY29tMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEeBZu
7cbpAYNXZLbbh8rNIzuOoqOOtmxA1v7cRm//AwyMwWxyHz4zfwmBhcSrf47NUAFf
qzLQ2PPQxdTXREYEnKMjMCEwHwYDVR0jBBgwFoAUaYhba4dGQEHhs3uEe6CuLN4B
yNQwCgYIKoZIzj0EAwIDRwAwRAIge09+S5TZAlw5tgtiVvuERV6cT4mfutXIlwTb
+FYN/8oCIClDsqBklhB9KAelFiYt9+6FDj3z4KGVelYM5MdsO3pK
-----END CERTIFICATE-----`;
const RFC9773_CERT_ID = 'aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE';

const DAY = 24 * 60 * 60 * 1000;
const T0 = Date.UTC(2025, 5, 1);
const at = (days: number) => new Date(T0 + days * DAY);

/** A 90-day certificate issued at T0 (lifetime rule: due at day 60). */
const CERT: AriCertificate = {
  serialBytes: hexDecode('00876543210102'),
  authorityKeyIdentifier: hexDecode('69885b6b87464041e1b37b847ba0ae2cde01c8d4'),
  notBefore: at(0),
  notAfter: at(90),
};
const CERT_ID = certificateIdentifier(CERT);
const RENEWAL_INFO_URL = 'https://ca.example/acme/renewal-info';

test('ari: certificate identifier of RFC 9773 §4.1 from raw AKI and serial', () => {
  assertEquals(certificateIdentifier({
    authorityKeyIdentifier: hexDecode('69885b6b87464041e1b37b847ba0ae2cde01c8d4'),
    serialBytes: hexDecode('0087654321'),
  }), RFC9773_CERT_ID);
});

test('ari: certificate identifier of RFC 9773 §4.1 from its example certificate, read by asn1js and by the small DER reader', () => {
  assertEquals(certificateIdentifier(parseCertificate(pemDecode(RFC9773_CERT).der)), RFC9773_CERT_ID);
  assertEquals(certificateIdentifier(readCertificateSummary(pemDecode(RFC9773_CERT).der)), RFC9773_CERT_ID);
});

test('ari: a certificate without an AKI has no identifier', () => {
  assertThrows(() => certificateIdentifier({ serialBytes: hexDecode('01') }), RangeError,
    'Cannot compute the ARI certificate identifier: the certificate has no authority key identifier (RFC 9773 §4.1)');
});

test('ari: the chosen time is uniform inside the window and never reaches its end', () => {
  const window = { start: at(60), end: at(62) };
  assertEquals(chooseRenewalTime(window, () => 0), at(60));
  assertEquals(chooseRenewalTime(window, () => 0.5), at(61));
  const last = chooseRenewalTime(window, () => 0.9999999999);
  assert(last.getTime() < window.end.getTime() && last.getTime() > at(61.99).getTime(), `got ${last.toISOString()}`);
  const picks = Array.from({ length: 200 }, () => chooseRenewalTime(window).getTime());
  assert(picks.every((time) => time >= window.start.getTime() && time < window.end.getTime()), 'a Math.random pick left the window');
});

test('ari: the stable fraction is fixed per serial and spread across serials', () => {
  assertEquals(stableFraction(CERT.serialBytes), stableFraction(hexDecode('00876543210102')));
  const fractions = Array.from({ length: 1000 }, (_, i) => stableFraction(new Uint8Array([0x4a, i >> 8, i & 0xff, 7, 1])));
  assert(fractions.every((value) => value >= 0 && value < 1), 'a fraction is outside [0, 1)');
  const mean = fractions.reduce((sum, value) => sum + value, 0) / fractions.length;
  assert(Math.abs(mean - 0.5) < 0.05, `mean ${mean} is far from 0.5`);
  const quarters = [0, 0, 0, 0];
  for (const value of fractions) quarters[Math.floor(value * 4)]!++;
  assert(quarters.every((count) => count > 200 && count < 300), `quarters ${quarters.join(', ')}`);
});

const window = (start: number, end: number, extra: Partial<RenewalInfo> = {}): RenewalInfo => ({ suggestedWindow: { start: at(start), end: at(end) }, ...extra });

test('ari: a window in the past makes the certificate due now', () => {
  const decision = renewalDecision({ cert: CERT, now: at(50), renewalInfo: window(40, 42) });
  assertEquals(decision.due, true);
  assertEquals(decision.reason, 'ari');
  assert(decision.at.getTime() >= at(40).getTime() && decision.at.getTime() < at(42).getTime(), `at ${decision.at.toISOString()}`);
});

test('ari: a window in the future is not due, and the default pick is the same on every run', () => {
  const first = renewalDecision({ cert: CERT, now: at(50), renewalInfo: window(60, 62) });
  const second = renewalDecision({ cert: CERT, now: at(51), renewalInfo: window(60, 62) });
  assertEquals(first.due, false);
  assertEquals(first.at, second.at);
  assertEquals(first.at, chooseRenewalTime({ start: at(60), end: at(62) }, () => stableFraction(CERT.serialBytes)));
  // Once past the chosen moment it is due, still with no state kept between runs.
  assertEquals(renewalDecision({ cert: CERT, now: new Date(first.at.getTime() + 1), renewalInfo: window(60, 62) }).due, true);
  assertEquals(renewalDecision({ cert: CERT, now: new Date(first.at.getTime() - 1), renewalInfo: window(60, 62) }).due, false);
});

test('ari: a window moved forward by the CA (early revocation) makes a waiting certificate due, with the explanation', () => {
  const before = renewalDecision({ cert: CERT, now: at(30), renewalInfo: window(60, 62), random: () => 0.5 });
  assertEquals(before.due, false);
  const moved = renewalDecision({
    cert: CERT, now: at(30), random: () => 0.5,
    renewalInfo: window(29, 29.5, { explanationURL: 'https://ca.example/incident/42' }),
  });
  assertEquals(moved, { due: true, at: at(29.25), reason: 'ari', explanationURL: 'https://ca.example/incident/42', nextCheck: new Date(at(30).getTime() + 6 * 60 * 60 * 1000) });
});

test('ari: with nextRun, a moment before the next run renews now (RFC 9773 §4.2), but never before the window opens', () => {
  const info = window(60, 62);
  const random = () => 0.75; // day 61.5
  assertEquals(renewalDecision({ cert: CERT, now: at(61), renewalInfo: info, random }).due, false);
  assertEquals(renewalDecision({ cert: CERT, now: at(61), nextRun: at(62), renewalInfo: info, random }).due, true);
  assertEquals(renewalDecision({ cert: CERT, now: at(60.4), nextRun: at(61.4), renewalInfo: info, random }).due, false);
  assertEquals(renewalDecision({ cert: CERT, now: at(59.9), nextRun: at(60.9), renewalInfo: info, random: () => 0 }).due, false);
});

test('ari: Retry-After sets the next check, bounded to a minute and a day (RFC 9773 §4.3)', () => {
  const now = at(50);
  const check = (retryAfter?: Date) => renewalDecision({ cert: CERT, now, renewalInfo: window(60, 62, retryAfter ? { retryAfter } : {}) }).nextCheck;
  assertEquals(check(new Date(now.getTime() + 2 * 60 * 60 * 1000)), new Date(now.getTime() + 2 * 60 * 60 * 1000));
  assertEquals(check(new Date(now.getTime() + 5_000)), new Date(now.getTime() + 60_000));
  assertEquals(check(at(60)), at(51));
  assertEquals(check(), new Date(now.getTime() + 6 * 60 * 60 * 1000));
});

test('ari: without renewal information the lifetime rule decides', () => {
  assertEquals(renewalDecision({ cert: CERT, now: at(59) }), { due: false, at: renewalTime(CERT), reason: 'lifetime' });
  assertEquals(renewalDecision({ cert: CERT, now: at(60) }), { due: true, at: at(60), reason: 'lifetime' });
});

test('ari: an expired certificate is due whatever the window says', () => {
  assertEquals(renewalDecision({ cert: CERT, now: at(91), renewalInfo: window(100, 102) }).due, true);
});

/** A fetch that answers from a table by URL and records what it was asked. */
function fakeFetch(replies: Record<string, Reply>, asked: string[] = []): typeof fetch {
  return new FakeCa(({ url }) => {
    asked.push(url);
    return replies[url] ?? { status: 404, body: 'not here', contentType: 'text/plain' };
  }).fetch;
}

const ARI_URL = `${RENEWAL_INFO_URL}/${CERT_ID}`;
const GOOD_BODY = { suggestedWindow: { start: '2025-07-31T00:00:00Z', end: '2025-08-02T00:00:00Z' }, explanationURL: 'https://ca.example/why' };

test('ari: fetchRenewalInfo reads the window, the explanation and Retry-After', async () => {
  const asked: string[] = [];
  const info = await fetchRenewalInfo(`${RENEWAL_INFO_URL}/`, CERT_ID, {
    fetch: fakeFetch({ [ARI_URL]: { body: GOOD_BODY, headers: { 'retry-after': '21600' } } }, asked), now: () => T0,
  });
  assertEquals(asked, [ARI_URL]);
  assertEquals(info, {
    suggestedWindow: { start: new Date('2025-07-31T00:00:00Z'), end: new Date('2025-08-02T00:00:00Z') },
    explanationURL: 'https://ca.example/why',
    retryAfter: new Date(T0 + 21600 * 1000),
  });
});

test('ari: fetchRenewalInfo drops an explanationURL that is not http(s)', async () => {
  const body = { ...GOOD_BODY, explanationURL: 'javascript:alert(1)' };
  const info = await fetchRenewalInfo(RENEWAL_INFO_URL, CERT_ID, { fetch: fakeFetch({ [ARI_URL]: { body } }) });
  assertEquals(info.explanationURL, undefined);
});

const BAD_WINDOWS: [string, unknown, string][] = [
  ['end before start', { suggestedWindow: { start: '2025-08-02T00:00:00Z', end: '2025-07-31T00:00:00Z' } },
    `Cannot use the renewal information from ${ARI_URL}: suggestedWindow ends (2025-07-31T00:00:00.000Z) before it starts (2025-08-02T00:00:00.000Z)`],
  ['end equal to start', { suggestedWindow: { start: '2025-08-02T00:00:00Z', end: '2025-08-02T00:00:00Z' } }, 'before it starts'],
  ['no window', { explanationURL: 'https://ca.example/' }, `Cannot use the renewal information from ${ARI_URL}: it has no suggestedWindow`],
  ['not RFC 3339', { suggestedWindow: { start: 'August 1', end: '2025-08-02T00:00:00Z' } }, 'suggestedWindow start and end must be RFC 3339 timestamps'],
  ['numbers', { suggestedWindow: { start: 1, end: 2 } }, 'suggestedWindow start and end must be RFC 3339 timestamps'],
];
for (const [name, body, message] of BAD_WINDOWS) {
  test(`ari: fetchRenewalInfo refuses a response with ${name}`, async () => {
    await assertRejects(() => fetchRenewalInfo(RENEWAL_INFO_URL, CERT_ID, { fetch: fakeFetch({ [ARI_URL]: { body } }) }), UnexpectedResponseError, message);
  });
}

test('ari: fetchRenewalInfo passes on the CA\'s problem', async () => {
  const problem = { type: 'urn:ietf:params:acme:error:malformed', detail: 'Certificate not found', status: 404 };
  const error = await assertRejects(() => fetchRenewalInfo(RENEWAL_INFO_URL, CERT_ID, { fetch: fakeFetch({ [ARI_URL]: { status: 404, body: problem } }) }), AcmeError,
    `Cannot get renewal information for ${CERT_ID}: urn:ietf:params:acme:error:malformed: Certificate not found`);
  assertEquals((error as AcmeError).status, 404);
});

test('ari: checkRenewal uses the CA\'s window and returns the identifier for replaces', async () => {
  const check = await checkRenewal({ cert: CERT, now: at(62), renewalInfoUrl: RENEWAL_INFO_URL, fetch: fakeFetch({ [ARI_URL]: { body: GOOD_BODY } }) });
  assertEquals(check.reason, 'ari');
  assertEquals(check.due, true);
  assertEquals(check.certId, CERT_ID);
  assertEquals(check.explanationURL, 'https://ca.example/why');
  assertEquals(check.renewalInfo, { suggestedWindow: { start: new Date('2025-07-31T00:00:00Z'), end: new Date('2025-08-02T00:00:00Z') }, explanationURL: 'https://ca.example/why' });
  assertEquals(check.ariError, undefined);
});

test('ari: checkRenewal falls back to the lifetime rule when the CA has no renewalInfo', async () => {
  const asked: string[] = [];
  const check = await checkRenewal({ cert: CERT, now: at(59), fetch: fakeFetch({}, asked) });
  assertEquals(check, { due: false, at: at(60), reason: 'lifetime', certId: CERT_ID });
  assertEquals(asked, []);
});

test('ari: checkRenewal falls back to the lifetime rule for a certificate without an AKI, asking nothing', async () => {
  const asked: string[] = [];
  const { authorityKeyIdentifier: _, ...noAki } = CERT;
  const check = await checkRenewal({ cert: noAki, now: at(61), renewalInfoUrl: RENEWAL_INFO_URL, fetch: fakeFetch({}, asked) });
  assertEquals(check, { due: true, at: at(60), reason: 'lifetime' });
  assertEquals(asked, []);
});

test('ari: checkRenewal falls back to the lifetime rule on an error, and keeps the error and its Retry-After', async () => {
  const problem = { type: 'urn:ietf:params:acme:error:serverInternal', detail: 'try later', status: 500 };
  const check = await checkRenewal({
    cert: CERT, now: at(59), renewalInfoUrl: RENEWAL_INFO_URL,
    fetch: fakeFetch({ [ARI_URL]: { status: 500, body: problem, headers: { 'retry-after': '3600' } } }),
  });
  assertEquals(check.reason, 'lifetime');
  assertEquals(check.due, false);
  assert(check.ariError instanceof AcmeError, 'expected the AcmeError');
  assertEquals(check.nextCheck!.getTime() - at(59).getTime(), 3600 * 1000, 'next check from Retry-After');
});

test('ari: checkRenewal falls back to the lifetime rule when the window is invalid', async () => {
  const body = { suggestedWindow: { start: '2025-08-02T00:00:00Z', end: '2025-07-31T00:00:00Z' } };
  const check = await checkRenewal({ cert: CERT, now: at(61), renewalInfoUrl: RENEWAL_INFO_URL, fetch: fakeFetch({ [ARI_URL]: { body } }) });
  assertEquals([check.reason, check.due], ['lifetime', true]);
  assert(check.ariError instanceof UnexpectedResponseError, 'expected the UnexpectedResponseError');
  assertEquals(check.nextCheck!.getTime() - at(61).getTime(), 6 * 60 * 60 * 1000, 'without Retry-After, the next check is in six hours');
});

const acmeError = (status: number, type: string, detail: string) =>
  new AcmeError(`Cannot create order: ${type}: ${detail}`, { problem: { type, detail, status }, status, url: 'https://ca.example/new-order' });
const BOULDER_UNKNOWN = acmeError(404, 'urn:ietf:params:acme:error:malformed',
  "Could not validate ARI 'replaces' field :: request included `replaces` field, but no current certificate with serial \"876543210102\" exists");
const BOULDER_REPLACED = acmeError(409, 'urn:ietf:params:acme:error:alreadyReplaced',
  "Could not validate ARI 'replaces' field :: cannot indicate an order replaces certificate with serial \"876543210102\", which already has a replacement order");
const BOULDER_OTHER_ACCOUNT = acmeError(403, 'urn:ietf:params:acme:error:unauthorized',
  "Could not validate ARI 'replaces' field :: requester account did not request the certificate being replaced by this order");

test('ari: the replaces rejections Boulder sends are recognised, and nothing else', () => {
  assert(isReplacesRejected(BOULDER_UNKNOWN), 'unknown certificate');
  assert(isReplacesRejected(BOULDER_REPLACED), 'already replaced');
  assert(isReplacesRejected(BOULDER_OTHER_ACCOUNT), 'another account');
  assert(!isReplacesRejected(acmeError(400, 'urn:ietf:params:acme:error:malformed', 'NewOrder request did not specify any identifiers')), 'other malformed');
  assert(!isReplacesRejected(acmeError(429, 'urn:ietf:params:acme:error:rateLimited', 'too many new orders (replaces would have helped)')), 'rate limited');
  assert(!isReplacesRejected(acmeError(500, 'urn:ietf:params:acme:error:serverInternal', 'replaces lookup failed')), 'server error');
  assert(!isReplacesRejected(new Error('replaces')), 'plain error');
});

test('ari: withReplacesFallback retries once without replaces when the CA refuses it', async () => {
  const calls: (string | undefined)[] = [];
  const heard: AcmeError[] = [];
  const order = await withReplacesFallback(CERT_ID, async (replaces) => {
    calls.push(replaces);
    if (replaces) throw BOULDER_UNKNOWN;
    return 'order';
  }, (error) => heard.push(error));
  assertEquals(order, 'order');
  assertEquals(calls, [CERT_ID, undefined]);
  assertEquals(heard, [BOULDER_UNKNOWN]);
});

test('ari: withReplacesFallback sends replaces once when accepted, and never without a certificate', async () => {
  const calls: (string | undefined)[] = [];
  await withReplacesFallback(CERT_ID, async (replaces) => void calls.push(replaces));
  await withReplacesFallback(undefined, async (replaces) => void calls.push(replaces));
  assertEquals(calls, [CERT_ID, undefined]);
});

test('ari: withReplacesFallback passes on other errors, and the second attempt\'s error', async () => {
  const rateLimited = acmeError(429, 'urn:ietf:params:acme:error:rateLimited', 'too many');
  let calls = 0;
  await assertRejects(() => withReplacesFallback(CERT_ID, async () => {
    calls++;
    throw rateLimited;
  }), AcmeError, 'too many');
  assertEquals(calls, 1);
  await assertRejects(() => withReplacesFallback(CERT_ID, async (replaces) => {
    throw replaces ? BOULDER_REPLACED : rateLimited;
  }), AcmeError, 'too many');
});
