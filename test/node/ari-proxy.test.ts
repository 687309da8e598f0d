// ARI and profiles end to end: the protocol client against Pebble behind test/_acme-proxy.ts, which serves
// renewalInfo and meta.profiles, records each newOrder's profile and replaces, and refuses replaces as Boulder does.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startPebble, type Pebble } from '../_pebble.ts';
import { LETS_ENCRYPT_PROFILES, PEBBLE_CAA_IDENTITY, startAcmeProxy, type AcmeProxy } from '../_acme-proxy.ts';
import { AcmeClient } from '../../core/client.ts';
import { issueCertificate, type ChallengeResponder } from '../../core/flow.ts';
import { generateKey, type AcmeKey } from '../../core/keys.ts';
import { normalizeIdentifiers } from '../../core/names.ts';
import { checkRenewal, withReplacesFallback, type RenewalCheck } from '../../core/ari.ts';
import type { CertificateInfo } from '../../core/x509.ts';
import { AcmeError } from '../../core/errors.ts';

const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;

let pebble: Pebble;
let proxy: AcmeProxy;
let client: AcmeClient;
let certificateKey: AcmeKey;
let issued: CertificateInfo;
let certId: string;

/** dns-01 through challtestsrv, so no port needs to be served. */
const dnsResponder = (): ChallengeResponder => ({
  types: ['dns-01'],
  present: (task) => pebble.setTxt(task.dnsName, task.dnsValue),
  cleanup: (task) => pebble.clearTxt(task.dnsName),
});

before(async () => {
  // Every newOrder reaches the proxy once: no badNonce retries to tell apart.
  pebble = await startPebble({ env: { PEBBLE_WFE_NONCEREJECT: '0' } });
  proxy = await startAcmeProxy(pebble);
  client = await AcmeClient.create(proxy.directoryUrl, { fetch: pebble.fetch, accountKey: await generateKey('ec256') });
  certificateKey = await generateKey('ec256');
  const result = await issueCertificate({
    client, identifiers: ['ari.example.com'], certificateKey, responder: dnsResponder(), account: { termsOfServiceAgreed: true },
  });
  issued = result.certificate;
  certId = (await checkRenewal({ cert: issued })).certId!;
});
after(async () => {
  await proxy?.stop();
  await pebble?.stop();
});

test('proxy: the directory lists renewalInfo, profiles and caaIdentities, and Pebble\'s URLs point at the proxy', () => {
  assert.equal(client.directory.renewalInfo, proxy.renewalInfoUrl);
  assert.deepEqual(client.directory.meta.profiles, LETS_ENCRYPT_PROFILES);
  assert.deepEqual(client.directory.meta.caaIdentities, [PEBBLE_CAA_IDENTITY]);
  assert.equal(new URL(client.directory.newOrder).host, new URL(proxy.directoryUrl).host);
});

test('profiles: a known profile is sent in newOrder', async () => {
  const before = proxy.orders.length;
  await client.newOrder({ identifiers: normalizeIdentifiers(['profile.example.com']), profile: 'tlsserver' });
  assert.deepEqual(proxy.orders.slice(before), [{ identifiers: [{ type: 'dns', value: 'profile.example.com' }], profile: 'tlsserver' }]);
});

test('profiles: an unknown profile is refused before any request, listing the CA\'s', async () => {
  const before = proxy.orders.length;
  await assert.rejects(client.newOrder({ identifiers: normalizeIdentifiers(['profile.example.com']), profile: '45days' }), {
    name: 'RangeError',
    message: 'Unknown profile "45days": the CA offers classic (https://letsencrypt.org/docs/profiles#classic), '
      + 'tlsserver (https://letsencrypt.org/docs/profiles#tlsserver), shortlived (https://letsencrypt.org/docs/profiles#shortlived)',
  });
  assert.equal(proxy.orders.length, before);
});

const check = (now: Date, nextRun?: Date): Promise<RenewalCheck> =>
  checkRenewal({ cert: issued, now, renewalInfoUrl: client.directory.renewalInfo!, transport: client.transport, ...(nextRun && { nextRun }) });

test('ari: a window in the past is due now', async () => {
  const now = new Date();
  proxy.setRenewalInfo(certId, { start: new Date(now.getTime() - 2 * DAY), end: new Date(now.getTime() - DAY) });
  const decision = await check(now);
  assert.equal(decision.reason, 'ari');
  assert.equal(decision.due, true);
  assert.equal(decision.certId, certId);
  assert.equal(proxy.renewalInfoRequests.at(-1), certId);
});

test('ari: a window in the future is not due, and Retry-After sets the next check', async () => {
  const now = new Date();
  const start = new Date(now.getTime() + 10 * DAY);
  const end = new Date(now.getTime() + 12 * DAY);
  proxy.setRenewalInfo(certId, { start, end, retryAfterSeconds: 3 * 60 * 60 });
  const decision = await check(now);
  assert.equal(decision.due, false);
  assert.ok(decision.at >= start && decision.at < end, `chosen ${decision.at.toISOString()} is outside the window`);
  const wait = decision.nextCheck!.getTime() - now.getTime();
  assert.ok(Math.abs(wait - 3 * HOUR) < 5000, `next check in ${wait} ms, expected about 3 hours`);
  // The same certificate keeps its moment on the next run.
  assert.deepEqual((await check(new Date(now.getTime() + DAY))).at, decision.at);
});

test('ari: a window moved forward (early revocation) makes the certificate due, with the explanation', async () => {
  const now = new Date();
  proxy.setRenewalInfo(certId, { start: new Date(now.getTime() + 30 * DAY), end: new Date(now.getTime() + 32 * DAY) });
  assert.equal((await check(now)).due, false);
  proxy.setRenewalInfo(certId, {
    start: new Date(now.getTime() - HOUR), end: new Date(now.getTime() - 1000), explanationURL: 'https://ca.example/incidents/2025-01',
  });
  const moved = await check(now);
  assert.equal(moved.due, true);
  assert.equal(moved.explanationURL, 'https://ca.example/incidents/2025-01');
});

test('ari: a certificate the CA has no window for falls back to the lifetime rule', async () => {
  proxy.setRenewalInfo(certId, undefined);
  const decision = await check(new Date(issued.notBefore.getTime() + HOUR));
  assert.equal(decision.reason, 'lifetime');
  assert.equal(decision.due, false);
  assert.ok(decision.ariError instanceof AcmeError && decision.ariError.status === 404, String(decision.ariError));
});

test('replaces: a renewal sends the old certificate\'s identifier', async () => {
  const before = proxy.orders.length;
  await issueCertificate({ client, identifiers: ['ari.example.com'], certificateKey, responder: dnsResponder(), replaces: certId, profile: 'shortlived' });
  assert.deepEqual(proxy.orders.slice(before), [{ identifiers: [{ type: 'dns', value: 'ari.example.com' }], profile: 'shortlived', replaces: certId }]);
});

for (const rejection of ['unknown-certificate', 'already-replaced'] as const) {
  test(`replaces: refused as Boulder does (${rejection}), the order is made once more without it`, async () => {
    proxy.rejectReplaces = rejection;
    try {
      const before = proxy.orders.length;
      const heard: AcmeError[] = [];
      const identifiers = normalizeIdentifiers(['ari.example.com']);
      const order = await withReplacesFallback(certId, (replaces) => client.newOrder({ identifiers, ...(replaces && { replaces }) }), (error) => heard.push(error));
      assert.match(order.url, /^https:\/\/127\.0\.0\.1:\d+\//);
      assert.deepEqual(proxy.orders.slice(before).map((recorded) => recorded.replaces), [certId, undefined]);
      assert.equal(heard.length, 1);
      assert.match(heard[0]!.message, /Could not validate ARI 'replaces' field/);
    } finally {
      proxy.rejectReplaces = undefined;
    }
  });
}
