// issueCertificate against a scripted CA: the request sequence, parallel authorizations, cleanup on every path,
// the failed-challenge error, chain selection, and the refusal of a certificate that is not ours.

import { assert, assertEquals, assertRejects, test } from '../_harness.ts';
import { CA, DIRECTORY, FakeCa, fakeClient, type Recorded, type Reply } from './_fake-ca.ts';
import { ACME_ERROR, AcmeError, UnexpectedResponseError, type Problem } from '../../core/errors.ts';
import { issueCertificate, type ChallengeResponder, type FlowEvent } from '../../core/flow.ts';
import type { ChallengeTask, ChallengeType } from '../../core/resources.ts';
import { generateKey } from '../../core/keys.ts';
import { importKey } from '../../core/key-pem.ts';
import { createCsr, parseCsr } from '../../core/csr.ts';
import { base64UrlDecode } from '../../core/encoding.ts';
import { CaaError, type CaaRecord, type CaaResolver } from '../../core/caa.ts';

// openssl: two EC roots "Fixture Root A" and "Fixture Root B", and one P-256 leaf key certified by each for
// DNS:a.example.com, DNS:b.example.com (serials 0a0b0caa and 0a0b0cbb).
const LEAF_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgKmqwFMVZ4g/bFaQO
BV4LzEXeHjgM6naHGcXDnYqiVl6hRANCAATVePeEhokRcSoxnJQJQceaIFx9I2qf
D8Dq0hDg83ImSb18IBGDCM+y5Ve4UD52ArOlkuqNF+gHHNIXV7onzTKw
-----END PRIVATE KEY-----
`;
const LEAF_A = `-----BEGIN CERTIFICATE-----
MIIBjzCCATSgAwIBAgIECgsMqjAKBggqhkjOPQQDAjAZMRcwFQYDVQQDDA5GaXh0
dXJlIFJvb3QgQTAeFw0yNjExMjgyMjI5MjZaFw00NjAxMjcyMjI5MjZaMBgxFjAU
BgNVBAMMDWEuZXhhbXBsZS5jb20wWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAATV
ePeEhokRcSoxnJQJQceaIFx9I2qfD8Dq0hDg83ImSb18IBGDCM+y5Ve4UD52ArOl
kuqNF+gHHNIXV7onzTKwo2swaTAnBgNVHREEIDAegg1hLmV4YW1wbGUuY29tgg1i
LmV4YW1wbGUuY29tMB0GA1UdDgQWBBSKitfFB7cF3riyO8EaF/bx/MSouDAfBgNV
HSMEGDAWgBSp/dYi1TvvSh8CwoFXPpV1xwMWjDAKBggqhkjOPQQDAgNJADBGAiEA
3o3a5VNB6N7/NlaiufwEgEeSmHRiDmNYxr286pjeizcCIQDflyoN/EonYXTfGzls
K0OlhpPtN0OyuSFGSiCW3dUFRA==
-----END CERTIFICATE-----
`;
const ROOT_A = `-----BEGIN CERTIFICATE-----
MIIBhzCCAS2gAwIBAgIUaqlOeIvd8wVGs9CkQt1kx96pgLwwCgYIKoZIzj0EAwIw
GTEXMBUGA1UEAwwORml4dHVyZSBSb290IEEwHhcNMjYxMTI4MjIyOTI2WhcNNDYx
MTIzMjIyOTI2WjAZMRcwFQYDVQQDDA5GaXh0dXJlIFJvb3QgQTBZMBMGByqGSM49
AgEGCCqGSM49AwEHA0IABOvjAmwazBdpZc01aMUFvyCs83Q+yBfjBm+1lWpqvEu4
xrikQCX5d/Da0MPxE5NAvWDlCA5CGVM04K+EDE0XqgWjUzBRMB0GA1UdDgQWBBSp
/dYi1TvvSh8CwoFXPpV1xwMWjDAfBgNVHSMEGDAWgBSp/dYi1TvvSh8CwoFXPpV1
xwMWjDAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0gAMEUCICV9lfebldcq
S4tc9ttLs4y6rrLxgKLOwIPu2UEGYE4/AiEA760sEizlECvstexFust4kwIVHNGc
3s5MZlsMzvFpb/U=
-----END CERTIFICATE-----
`;
const LEAF_B = `-----BEGIN CERTIFICATE-----
MIIBjjCCATSgAwIBAgIECgsMuzAKBggqhkjOPQQDAjAZMRcwFQYDVQQDDA5GaXh0
dXJlIFJvb3QgQjAeFw0yNjExMjgyMjI5MjZaFw00NjAxMjcyMjI5MjZaMBgxFjAU
BgNVBAMMDWEuZXhhbXBsZS5jb20wWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAATV
ePeEhokRcSoxnJQJQceaIFx9I2qfD8Dq0hDg83ImSb18IBGDCM+y5Ve4UD52ArOl
kuqNF+gHHNIXV7onzTKwo2swaTAnBgNVHREEIDAegg1hLmV4YW1wbGUuY29tgg1i
LmV4YW1wbGUuY29tMB0GA1UdDgQWBBSKitfFB7cF3riyO8EaF/bx/MSouDAfBgNV
HSMEGDAWgBSsyK7+2n9oLnZfWSri4HsRiKbNzTAKBggqhkjOPQQDAgNIADBFAiEA
gIVqNDzPt0b7dGl7BJXqZFoJ8ZPtvklb2uT8waRXb/YCICczOJER2n4sBBxhAZhp
71iZNLURxnTFIywoRX037JXH
-----END CERTIFICATE-----
`;
const ROOT_B = `-----BEGIN CERTIFICATE-----
MIIBhjCCAS2gAwIBAgIURYCPiKa8koMtxqBn7knHSkaMCiMwCgYIKoZIzj0EAwIw
GTEXMBUGA1UEAwwORml4dHVyZSBSb290IEIwHhcNMjYxMTI4MjIyOTI2WhcNNDYx
MTIzMjIyOTI2WjAZMRcwFQYDVQQDDA5GaXh0dXJlIFJvb3QgQjBZMBMGByqGSM49
AgEGCCqGSM49AwEHA0IABCsH0RpxbrQC4224DrF9L/IelNYSlB6AhcWmgexWmGN8
PU4CwSy19GihbaOiWPnkcdPkodbVhF7bDUT9sRZbGdGjUzBRMB0GA1UdDgQWBBSs
yK7+2n9oLnZfWSri4HsRiKbNzTAfBgNVHSMEGDAWgBSsyK7+2n9oLnZfWSri4HsR
iKbNzTAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0cAMEQCIGAj1OO/hl60
5MQs3csVyYQ0H3FlsV/sMp5rqTICcdlaAiA/AQ22aEZOeK97Bfdl/asYVWFxX3Co
hUZ9AH1Q8Jz5Gw==
-----END CERTIFICATE-----
`;
const NAMES = ['a.example.com', 'b.example.com'];
const TOKEN = 'evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA';
/** Boulder's words for a `replaces` naming a certificate it does not know (RFC 9773 §5). */
const REPLACES_REFUSAL = 'Could not validate ARI \'replaces\' field :: request included `replaces` field, but no current certificate with serial "0a0b0caa" exists';

interface Script {
  /** Authorizations the CA already holds as valid (§7.1.4 reuse). */
  reused?: string[];
  /** The problem the CA records on the challenge of these names. */
  failures?: Record<string, Problem>;
  token?: string;
  /** Names in the order (default NAMES); the fixture certificate is for NAMES whatever is ordered. */
  ordered?: string[];
  /** Refuse a newOrder that carries `replaces`, as Boulder does for a certificate it does not know. */
  refuseReplaces?: boolean;
}

/** A CA that walks one order through §7.1's states, answering each name's http-01 and dns-01 challenges. */
function scriptedCa(script: Script = {}): FakeCa {
  const ordered = script.ordered ?? NAMES;
  const responded = new Set<string>();
  let finalized = false;
  const authzStatus = (name: string) => {
    if (script.reused?.includes(name)) return 'valid';
    if (!responded.has(name)) return 'pending';
    return script.failures?.[name] ? 'invalid' : 'valid';
  };
  const order = (): Reply => {
    const statuses = ordered.map(authzStatus);
    const status = statuses.includes('invalid') ? 'invalid' : statuses.every((s) => s === 'valid') ? (finalized ? 'valid' : 'ready') : 'pending';
    return {
      body: {
        status,
        identifiers: ordered.map((value) => ({ type: 'dns', value })),
        authorizations: ordered.map((name) => `${CA}/authz/${name}`),
        finalize: `${CA}/order/1/finalize`,
        ...(status === 'valid' && { certificate: `${CA}/cert/1` }),
      },
    };
  };
  return new FakeCa((request: Recorded): Reply => {
    const path = request.url.slice(CA.length);
    if (path === '/new-account') return { status: 201, body: { status: 'valid' }, headers: { location: `${CA}/account/1` } };
    if (path === '/new-order' && script.refuseReplaces && (request.payload as { replaces?: string }).replaces !== undefined) {
      return { status: 404, body: { type: ACME_ERROR.malformed, detail: REPLACES_REFUSAL, status: 404 } };
    }
    if (path === '/new-order') return { ...order(), status: 201, headers: { location: `${CA}/order/1` } };
    if (path === '/order/1') return order();
    if (path === '/order/1/finalize') {
      finalized = true;
      return { body: { ...(order().body as object), status: 'processing' } };
    }
    const authz = /^\/authz\/(.+)$/.exec(path);
    if (authz) {
      const name = authz[1]!;
      const status = authzStatus(name);
      const challenge = (type: string) => ({
        type, url: `${CA}/chall/${name}/${type}`, token: script.token ?? TOKEN,
        status: status === 'invalid' ? 'invalid' : status === 'valid' ? 'valid' : 'pending',
        ...(status === 'invalid' && type === 'http-01' && { error: script.failures![name] }),
      });
      return { body: { status, identifier: { type: 'dns', value: name }, challenges: [challenge('http-01'), challenge('dns-01')] } };
    }
    const chall = /^\/chall\/(.+)\/(.+)$/.exec(path);
    if (chall) {
      responded.add(chall[1]!);
      return { body: { type: chall[2], url: request.url, token: TOKEN, status: 'processing' } };
    }
    if (path === '/cert/1') return { body: LEAF_A + ROOT_A, contentType: 'application/pem-certificate-chain', headers: { link: `<${CA}/cert/1/alt>;rel="alternate", <${CA}/dir>;rel="index"` } };
    if (path === '/cert/1/alt') return { body: LEAF_B + ROOT_B, contentType: 'application/pem-certificate-chain' };
    return { status: 404, body: { type: ACME_ERROR.malformed, detail: `no ${path}` } };
  });
}

/** Records what the flow asks of it, in order. */
function recordingResponder(types: ChallengeType[] = ['http-01'], faults: { present?: string; cleanup?: string } = {}): ChallengeResponder & { log: string[] } {
  const log: string[] = [];
  return {
    types,
    log,
    async present(task: ChallengeTask) {
      log.push(`present ${task.identifier.value} ${task.type}`);
      if (faults.present === task.identifier.value) throw new Error(`cannot write ${task.httpPath}`);
    },
    async cleanup(task: ChallengeTask) {
      log.push(`cleanup ${task.identifier.value}`);
      if (faults.cleanup === task.identifier.value) throw new Error(`cannot remove ${task.httpPath}`);
    },
  };
}

async function setup(script?: Script, directory?: object) {
  const ca = scriptedCa(script);
  const { client, clock } = fakeClient(ca, await generateKey('ec256'), { accountUrl: undefined }, directory);
  return { ca, client, clock, certificateKey: await importKey(LEAF_KEY) };
}

test('flow: issues with all authorizations in parallel and polls only the order', async () => {
  const { ca, client, certificateKey } = await setup();
  const responder = recordingResponder();
  const events: FlowEvent[] = [];
  const issued = await issueCertificate({ client, identifiers: NAMES, certificateKey, responder, account: { termsOfServiceAgreed: true }, onProgress: (e) => events.push(e) });
  assertEquals(ca.calls, [
    'HEAD /nonce', 'POST /new-account', 'POST /new-order', 'POST /authz/a.example.com', 'POST /authz/b.example.com',
    'POST /chall/a.example.com/http-01', 'POST /chall/b.example.com/http-01', 'POST /order/1', 'POST /order/1/finalize', 'POST /order/1', 'POST /cert/1',
  ]);
  // Both responses are in place before the CA hears of either; cleanup comes after the order is ready.
  assertEquals(responder.log, ['present a.example.com http-01', 'present b.example.com http-01', 'cleanup a.example.com', 'cleanup b.example.com']);
  assertEquals(events.map((e) => e.kind), ['account', 'order', 'challenge', 'challenge', 'authorization', 'authorization', 'finalize', 'certificate']);
  assertEquals(events[0], { kind: 'account', url: `${CA}/account/1`, created: true });
  assertEquals(issued.certificate.serialHex, '0a0b0caa');
  assertEquals(issued.chain.map((c) => c.subjectCn), ['Fixture Root A']);
  assertEquals(issued.certificatePem, LEAF_A);
  assertEquals(issued.chainPem, ROOT_A);
  assertEquals(issued.fullchainPem, LEAF_A + ROOT_A);
  assertEquals({ account: issued.accountUrl, order: issued.orderUrl, cert: issued.certificateUrl }, { account: `${CA}/account/1`, order: `${CA}/order/1`, cert: `${CA}/cert/1` });
  const csr = await parseCsr(base64UrlDecode((ca.requests.find((r) => r.url.endsWith('/finalize'))!.payload as { csr: string }).csr));
  assertEquals(csr.identifiers, NAMES.map((value) => ({ type: 'dns', value })));
  assertEquals(csr.publicJwk, certificateKey.publicJwk);
});

test('flow: beforeNewAccount and beforeFinalize are awaited just before their requests, so a caller can store a new key first', async () => {
  const { ca, client, certificateKey } = await setup();
  const next: Record<string, number> = {};
  const hook = (name: string) => async () => {
    // A slow disk: the request must still wait for the hook.
    await new Promise((resolve) => setTimeout(resolve, 5));
    next[name] = ca.calls.length;
  };
  await issueCertificate({
    client, identifiers: NAMES, certificateKey, responder: recordingResponder(), beforeNewAccount: hook('account key'), beforeFinalize: hook('domain key'),
  });
  // The first request after each hook is the one that shows the key: newAccount (after its nonce), finalize.
  assertEquals(ca.calls.slice(next['account key'], next['account key']! + 2), ['HEAD /nonce', 'POST /new-account']);
  assertEquals(ca.calls[next['domain key']!], 'POST /order/1/finalize');
});

test('flow: a reused valid authorization is not presented again', async () => {
  const { ca, client, certificateKey } = await setup({ reused: ['a.example.com'] });
  const responder = recordingResponder(['dns-01', 'http-01']);
  const events: FlowEvent[] = [];
  await issueCertificate({ client, identifiers: NAMES, certificateKey, responder, onProgress: (e) => events.push(e) });
  assertEquals(responder.log, ['present b.example.com dns-01', 'cleanup b.example.com']);
  assert(!ca.calls.includes('POST /chall/a.example.com/http-01') && ca.calls.includes('POST /chall/b.example.com/dns-01'), ca.calls.join(', '));
  assertEquals(events.find((e) => e.kind === 'authorization'), { kind: 'authorization', identifier: { type: 'dns', value: 'a.example.com' }, wildcard: false, status: 'valid' });
});

test('flow: a failed challenge names the identifier and the type, keeps the CA\'s problem, and cleans up', async () => {
  const problem = { type: ACME_ERROR.unauthorized, detail: 'Invalid response from http://b.example.com/.well-known/acme-challenge/x: 404', status: 403 };
  const { ca, client, certificateKey } = await setup({ failures: { 'b.example.com': problem } });
  const responder = recordingResponder();
  const error = (await assertRejects(() => issueCertificate({ client, identifiers: NAMES, certificateKey, responder }), AcmeError,
    `Cannot authorize b.example.com (http-01): urn:ietf:params:acme:error:unauthorized: ${problem.detail}`)) as AcmeError;
  assertEquals(error.problem, problem);
  assertEquals(error.identifier, { type: 'dns', value: 'b.example.com' });
  assertEquals(error.url, `${CA}/chall/b.example.com/http-01`);
  assertEquals(responder.log.filter((line) => line.startsWith('cleanup')), ['cleanup a.example.com', 'cleanup b.example.com']);
  assert(!ca.calls.includes('POST /order/1/finalize'));
});

test('flow: several failed names make one compound error whose subproblems are the CA\'s documents', async () => {
  const failures = {
    'a.example.com': { type: ACME_ERROR.dns, detail: 'NXDOMAIN looking up A for a.example.com' },
    'b.example.com': { type: ACME_ERROR.caa, detail: 'CAA record forbids issuance', identifier: { type: 'dns' as const, value: 'b.example.com' } },
  };
  const { client, certificateKey } = await setup({ failures });
  const error = (await assertRejects(() => issueCertificate({ client, identifiers: NAMES, certificateKey, responder: recordingResponder() }), AcmeError,
    'Cannot authorize 2 names: a.example.com (http-01): urn:ietf:params:acme:error:dns: NXDOMAIN looking up A for a.example.com; '
    + 'b.example.com (http-01): urn:ietf:params:acme:error:caa for b.example.com: CAA record forbids issuance')) as AcmeError;
  assertEquals(error.problem.type, ACME_ERROR.compound);
  assertEquals(error.problem.subproblems, [
    { ...failures['a.example.com'], identifier: { type: 'dns', value: 'a.example.com' } },
    failures['b.example.com'],
  ]);
});

test('flow: a hostile token is refused before anything is presented or answered', async () => {
  const { ca, client, certificateKey } = await setup({ token: '../../../../etc/cron.d/x' });
  const responder = recordingResponder();
  await assertRejects(() => issueCertificate({ client, identifiers: NAMES, certificateKey, responder }), UnexpectedResponseError,
    'token "../../../../etc/cron.d/x" is not base64url');
  assertEquals(responder.log, []);
  assert(!ca.calls.some((call) => call.includes('/chall/')), ca.calls.join(', '));
});

test('flow: cleanup runs when present fails, and a failed cleanup stops the flow before finalize', async () => {
  const first = await setup();
  const failingPresent = recordingResponder(['http-01'], { present: 'a.example.com' });
  await assertRejects(() => issueCertificate({ client: first.client, identifiers: NAMES, certificateKey: first.certificateKey, responder: failingPresent }), Error,
    'cannot write /.well-known/acme-challenge/');
  assertEquals(failingPresent.log.filter((line) => line.startsWith('cleanup')), ['cleanup a.example.com', 'cleanup b.example.com']);
  assert(!first.ca.calls.some((call) => call.includes('/chall/')), 'no challenge answered');

  const second = await setup();
  const failingCleanup = recordingResponder(['http-01'], { cleanup: 'b.example.com' });
  await assertRejects(() => issueCertificate({ client: second.client, identifiers: NAMES, certificateKey: second.certificateKey, responder: failingCleanup }), Error,
    'cannot remove /.well-known/acme-challenge/');
  assertEquals(failingCleanup.log.filter((line) => line.startsWith('cleanup')), ['cleanup a.example.com', 'cleanup b.example.com']);
  assert(!second.ca.calls.includes('POST /order/1/finalize'));
});

test('flow: a responder that answers none of the offered types is refused, naming both sides', async () => {
  const { client, certificateKey } = await setup();
  const responder = recordingResponder(['tls-alpn-01']);
  await assertRejects(() => issueCertificate({ client, identifiers: NAMES, certificateKey, responder }), RangeError,
    'Cannot authorize a.example.com: the CA offers http-01, dns-01, but the responder answers tls-alpn-01');
  assertEquals(responder.log, []);
});

test('flow: a certificate for another key, or for other names, is refused', async () => {
  const otherKey = await setup();
  const wrongKey = await generateKey('ec256');
  await assertRejects(() => issueCertificate({ client: otherKey.client, identifiers: NAMES, certificateKey: wrongKey, responder: recordingResponder() }),
    UnexpectedResponseError, `Cannot accept certificate ${CA}/cert/1: its public key is not the certificate key of the CSR`);

  const fewer = await setup({ ordered: ['a.example.com'] });
  await assertRejects(() => issueCertificate({ client: fewer.client, identifiers: ['a.example.com'], certificateKey: fewer.certificateKey, responder: recordingResponder() }),
    UnexpectedResponseError, `Cannot accept certificate ${CA}/cert/1: it adds b.example.com (ordered: a.example.com)`);

  const more = await setup({ ordered: [...NAMES, 'c.example.com'] });
  await assertRejects(() => issueCertificate({ client: more.client, identifiers: [...NAMES, 'c.example.com'], certificateKey: more.certificateKey, responder: recordingResponder() }),
    UnexpectedResponseError, `Cannot accept certificate ${CA}/cert/1: it lacks c.example.com (ordered: a.example.com, b.example.com, c.example.com)`);
});

test('flow: preferredChain picks an alternate by issuer CN, and falls back to the default', async () => {
  const cases: [string | undefined, string, string[]][] = [
    [undefined, 'Fixture Root A', ['POST /cert/1']],
    ['Fixture Root A', 'Fixture Root A', ['POST /cert/1']],
    ['Fixture Root B', 'Fixture Root B', ['POST /cert/1', 'POST /cert/1/alt']],
    ['Nobody', 'Fixture Root A', ['POST /cert/1', 'POST /cert/1/alt']],
  ];
  for (const [preferredChain, root, downloads] of cases) {
    const { ca, client, certificateKey } = await setup();
    const issued = await issueCertificate({ client, identifiers: NAMES, certificateKey, responder: recordingResponder(), ...(preferredChain && { preferredChain }) });
    assertEquals(issued.chain[0]!.subjectCn, root, String(preferredChain));
    assertEquals(ca.calls.filter((call) => call.includes('/cert/')), downloads, String(preferredChain));
  }
});

test('flow: a CSR the user brings is used as it is, and must name the same identifiers', async () => {
  const { ca, client, certificateKey } = await setup();
  const csr = await createCsr({ key: certificateKey, identifiers: [{ type: 'dns', value: 'b.example.com' }, { type: 'dns', value: 'a.example.com' }] });
  const issued = await issueCertificate({ client, identifiers: NAMES, csr, responder: recordingResponder() });
  assertEquals(issued.certificate.serialHex, '0a0b0caa');
  const sent = (ca.requests.find((r) => r.url.endsWith('/finalize'))!.payload as { csr: string }).csr;
  assertEquals(base64UrlDecode(sent), csr);

  const fresh = await setup();
  await assertRejects(() => issueCertificate({ client: fresh.client, identifiers: ['a.example.com', 'c.example.com'], csr, responder: recordingResponder() }), RangeError,
    'Cannot issue certificate: the CSR names b.example.com, a.example.com, not a.example.com, c.example.com');
  await assertRejects(() => issueCertificate({ client: fresh.client, identifiers: NAMES, csr, certificateKey, responder: recordingResponder() }), TypeError,
    'Cannot issue certificate: give either a certificate key or a CSR, not both or neither');
  await assertRejects(() => issueCertificate({ client: fresh.client, identifiers: NAMES, csr, mustStaple: true, responder: recordingResponder() }), RangeError,
    'the CSR does not ask for OCSP must-staple');
  await assertRejects(() => issueCertificate({ client: fresh.client, identifiers: ['bad name!'], certificateKey, responder: recordingResponder() }), RangeError, 'Invalid name "bad name!"');
  assertEquals(fresh.ca.requests, [], 'bad input makes no request');
});

test('flow: an unknown profile is refused before any request, listing the CA\'s profiles', async () => {
  const { ca, client, certificateKey } = await setup();
  await assertRejects(() => issueCertificate({ client, identifiers: NAMES, certificateKey, responder: recordingResponder(), profile: 'tlsserver' }), RangeError,
    'Unknown profile "tlsserver": the CA offers classic (The usual), shortlived (Six days)');
  assertEquals(ca.requests, [], 'no account is created for an order that cannot be made');
  await issueCertificate({ client, identifiers: NAMES, certificateKey, responder: recordingResponder(), profile: 'shortlived' });
  assertEquals((ca.requests.find((r) => r.url.endsWith('/new-order'))!.payload as { profile?: string }).profile, 'shortlived');
});

test('flow: replaces goes into newOrder; refused, the order is made once more without it and the refusal is an event', async () => {
  const replaces = 'aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE';
  const sent = (ca: { requests: Recorded[] }) =>
    ca.requests.filter((r) => r.url.endsWith('/new-order')).map((r) => (r.payload as { replaces?: string }).replaces ?? 'none');

  const accepted = await setup();
  await issueCertificate({ client: accepted.client, identifiers: NAMES, certificateKey: accepted.certificateKey, responder: recordingResponder(), replaces });
  assertEquals(sent(accepted.ca), [replaces]);

  const refused = await setup({ refuseReplaces: true });
  const events: FlowEvent[] = [];
  const issued = await issueCertificate({
    client: refused.client, identifiers: NAMES, certificateKey: refused.certificateKey, responder: recordingResponder(), replaces, onProgress: (e) => events.push(e),
  });
  assertEquals(issued.certificate.serialHex, '0a0b0caa');
  assertEquals(sent(refused.ca), [replaces, 'none']);
  assertEquals(events.filter((e) => e.kind === 'replaces-refused'), [
    { kind: 'replaces-refused', replaces, problem: { type: ACME_ERROR.malformed, detail: REPLACES_REFUSAL, status: 404 } },
  ]);
});

/** A CaaResolver over a fixed table of record sets, recording each name it was asked about. */
function tableResolver(table: Record<string, CaaRecord[]>): CaaResolver & { asked: string[] } {
  const asked: string[] = [];
  return { asked, caa: async (name) => (asked.push(name), table[name] ?? []) };
}

const CAA_DIRECTORY = { ...DIRECTORY, meta: { ...DIRECTORY.meta, caaIdentities: ['ca.test'] } };

test('flow: the CAA pre-check refuses after the account and before the order, naming the record', async () => {
  const { ca, client, certificateKey } = await setup({}, CAA_DIRECTORY);
  const caaResolver = tableResolver({ 'example.com': [{ flags: 0, tag: 'issue', value: 'other.ca' }] });
  await assertRejects(() => issueCertificate({ client, identifiers: NAMES, certificateKey, responder: recordingResponder(), caaResolver }), CaaError,
    'CAA record 0 issue "other.ca" on example.com forbids issuance for a.example.com by this CA (caaIdentities: ca.test)');
  assertEquals(ca.calls, ['HEAD /nonce', 'POST /new-account']);
});

test('flow: the CAA pre-check sees the account URL and the responder\'s types, and its notes are an event', async () => {
  const { ca, client, certificateKey } = await setup({}, CAA_DIRECTORY);
  // RFC 8657: this account and http-01 are allowed; b.example.com's lookup fails, which the CA will judge itself.
  const caaResolver: CaaResolver = {
    async caa(name) {
      if (name === 'b.example.com') throw new Error('SERVFAIL');
      return name === 'example.com' ? [{ flags: 0, tag: 'issue', value: `ca.test; accounturi=${CA}/account/1; validationmethods=http-01` }] : [];
    },
  };
  const events: FlowEvent[] = [];
  await issueCertificate({ client, identifiers: NAMES, certificateKey, responder: recordingResponder(), caaResolver, onProgress: (e) => events.push(e) });
  assertEquals(events.filter((e) => e.kind === 'caa'), [
    { kind: 'caa', checked: true, notes: ['CAA lookup for b.example.com failed (SERVFAIL); the CA will check it itself'] },
  ]);
  assertEquals(ca.calls.slice(0, 3), ['HEAD /nonce', 'POST /new-account', 'POST /new-order']);

  const dns01Only = await setup({}, CAA_DIRECTORY);
  const methods = tableResolver({ 'example.com': [{ flags: 0, tag: 'issue', value: 'ca.test; validationmethods=dns-01' }] });
  await assertRejects(() => issueCertificate({ client: dns01Only.client, identifiers: NAMES, certificateKey, responder: recordingResponder(), caaResolver: methods }), CaaError,
    'validationmethods dns-01 allows none of http-01');

  const noIdentities = await setup();
  const unused = tableResolver({});
  const heard: FlowEvent[] = [];
  await issueCertificate({ client: noIdentities.client, identifiers: NAMES, certificateKey, responder: recordingResponder(), caaResolver: unused, onProgress: (e) => heard.push(e) });
  assertEquals(unused.asked, []);
  assertEquals(heard.find((e) => e.kind === 'caa'), { kind: 'caa', checked: false, notes: ['The CA lists no caaIdentities in its directory, so CAA records were not checked'] });
});
