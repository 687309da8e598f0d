// The transport and the client against a scripted CA: nonces, retries, limits, problem documents, the account,
// order and revocation requests as they go over the wire, and polling on a virtual clock.

import { assert, assertEquals, assertRejects, assertThrows, test } from '../_harness.ts';
import { CA, DIRECTORY, FakeCa, decodeJson, fakeClient, orderBody, type Recorded } from './_fake-ca.ts';
import { ACME_ERROR, AcmeError, UnexpectedResponseError, formatProblem, isAccountDoesNotExist, isBadNonce, isRateLimited, parseProblem, type Problem } from '../../core/errors.ts';
import { MAX_REQUEST_BYTES, MAX_RESPONSE_BYTES, Transport, checkAcmeUrl } from '../../core/http.ts';
import { DEFAULT_RETRY_POLICY } from '../../core/retry.ts';
import { parseLinkHeader, parseRetryAfter } from '../../core/headers.ts';
import { AcmeClient, fetchDirectory } from '../../core/client.ts';
import { readAuthorization, readDirectory, readOrder } from '../../core/responses.ts';
import { POLL_FIRST_DELAY_MS, POLL_MAX_DELAY_MS } from '../../core/poll.ts';
import { generateKey, type AcmeKey } from '../../core/keys.ts';
import { dns01TxtValue, keyAuthorization } from '../../core/jws.ts';
import { base64UrlDecode, base64UrlEncode, utf8Encode } from '../../core/encoding.ts';

const accountKey = () => generateKey('ec256');
const ORDER = `${CA}/order/1`;

function okOrder(): { body: unknown } {
  return { body: orderBody('pending') };
}

function signedNonces(requests: readonly Recorded[]): unknown[] {
  return requests.filter((request) => request.method === 'POST').map((request) => request.protected!.nonce);
}

test('protocol: newNonce is fetched only when the pool is empty, and every answer refills the pool, errors too', async () => {
  let count = 0;
  const ca = new FakeCa(() => (++count === 2 ? { status: 404, body: { type: ACME_ERROR.malformed, detail: 'No such order' } } : okOrder()));
  const { client } = fakeClient(ca, await accountKey());
  await client.getOrder(ORDER);
  await assertRejects(() => client.getOrder(ORDER), AcmeError, `Cannot fetch order ${ORDER}: urn:ietf:params:acme:error:malformed: No such order`);
  await client.getOrder(ORDER);
  assertEquals(ca.calls, ['HEAD /nonce', 'POST /order/1', 'POST /order/1', 'POST /order/1']);
  // The HEAD's nonce signs the first POST; each answer's nonce, the 404's included, signs the next.
  assertEquals(signedNonces(ca.requests), ca.nonces.slice(0, 3));
});

test('protocol: concurrent requests wait for nonces in flight instead of each asking newNonce', async () => {
  const ca = new FakeCa((request) => ({ body: { status: 'pending', identifier: { type: 'dns', value: request.url.slice(-1) }, challenges: [] } }));
  const { client } = fakeClient(ca, await accountKey());
  const names = await Promise.all(['a', 'b', 'c'].map(async (name) => (await client.getAuthorization(`${CA}/authz/${name}`)).identifier.value));
  assertEquals(names, ['a', 'b', 'c']);
  assertEquals(ca.calls.filter((call) => call.startsWith('HEAD')).length, 1);
  const nonces = signedNonces(ca.requests);
  assertEquals(new Set(nonces).size, 3, 'every POST has its own nonce');
});

test('protocol: badNonce is retried with the nonce that came with the error (RFC 8555 §6.5)', async () => {
  let count = 0;
  const ca = new FakeCa(() => (++count <= 2 ? { status: 400, body: { type: ACME_ERROR.badNonce, detail: 'JWS has an invalid anti-replay nonce' } } : okOrder()));
  const { client } = fakeClient(ca, await accountKey());
  assertEquals((await client.getOrder(ORDER)).status, 'pending');
  assertEquals(ca.calls, ['HEAD /nonce', 'POST /order/1', 'POST /order/1', 'POST /order/1']);
  assertEquals(signedNonces(ca.requests), ca.nonces.slice(0, 3));
});

test(`protocol: badNonce retries stop after ${DEFAULT_RETRY_POLICY.maxBadNonces}, with the CA's problem`, async () => {
  const ca = new FakeCa(() => ({ status: 400, body: { type: ACME_ERROR.badNonce, detail: 'bad nonce' } }));
  const { client } = fakeClient(ca, await accountKey());
  const error = await assertRejects(() => client.getOrder(ORDER), AcmeError, `Cannot fetch order ${ORDER}: urn:ietf:params:acme:error:badNonce: bad nonce`);
  assert(isBadNonce(error));
  assertEquals(ca.calls.filter((call) => call.startsWith('POST')).length, 1 + DEFAULT_RETRY_POLICY.maxBadNonces);
});

test('protocol: a badNonce without a fresh nonce falls back to newNonce', async () => {
  let count = 0;
  const ca = new FakeCa(() => (++count === 1 ? { status: 400, body: { type: ACME_ERROR.badNonce }, noNonce: true } : okOrder()));
  const { client } = fakeClient(ca, await accountKey());
  await client.getOrder(ORDER);
  assertEquals(ca.calls, ['HEAD /nonce', 'POST /order/1', 'HEAD /nonce', 'POST /order/1']);
});

test('protocol: 503 with Retry-After in seconds is waited out and retried with a fresh nonce', async () => {
  let count = 0;
  const ca = new FakeCa(() => (++count === 1 ? { status: 503, body: { type: ACME_ERROR.serverInternal, detail: 'busy' }, headers: { 'retry-after': '2' } } : okOrder()));
  const { client, clock } = fakeClient(ca, await accountKey());
  await client.getOrder(ORDER);
  assertEquals(clock.sleeps, [2000]);
  assertEquals(signedNonces(ca.requests), ca.nonces.slice(0, 2));
});

test('protocol: 429 with an HTTP-date Retry-After waits until that date', async () => {
  let count = 0;
  let when = '';
  const ca = new FakeCa(() => (++count === 1 ? { status: 429, body: { type: ACME_ERROR.rateLimited }, headers: { 'retry-after': when } } : okOrder()));
  const { client, clock } = fakeClient(ca, await accountKey());
  when = new Date(clock.time + 5000).toUTCString();
  await client.getOrder(ORDER);
  assertEquals(clock.sleeps, [5000]);
});

test('protocol: a Retry-After beyond the run\'s retry budget is not waited; the error keeps the date and the problem', async () => {
  const ca = new FakeCa(() => ({ status: 429, body: { type: ACME_ERROR.rateLimited, detail: 'too many certificates' }, headers: { 'retry-after': '3600' } }));
  const { client, clock } = fakeClient(ca, await accountKey());
  const retryAt = new Date(clock.time + 3_600_000);
  const error = await assertRejects(() => client.newOrder({ identifiers: [{ type: 'dns', value: 'a.example.com' }] }), AcmeError,
    `Cannot create order: urn:ietf:params:acme:error:rateLimited: too many certificates (retry after ${retryAt.toISOString()}; `
    + 'the CA asks to retry after 3600 s, beyond the 60 s this run waits for a CA)');
  assert(isRateLimited(error));
  assertEquals((error as AcmeError).retryAfter, retryAt);
  assertEquals((error as AcmeError).status, 429);
  assertEquals(clock.sleeps, []);
});

test('protocol: Retry-After is delay-seconds or an IMF-fixdate, anything else is ignored', () => {
  const now = Date.UTC(2026, 0, 1);
  const table: [string | null, Date | undefined][] = [
    ['120', new Date(now + 120_000)],
    [' 0 ', new Date(now)],
    ['Wed, 21 Oct 2015 07:28:00 GMT', new Date('2015-10-21T07:28:00Z')],
    ['-1', undefined],
    ['1.5', undefined],
    ['soon', undefined],
    ['2026-01-01T00:00:00Z', undefined],
    ['', undefined],
    [null, undefined],
  ];
  for (const [header, expected] of table) assertEquals(parseRetryAfter(header, now), expected, JSON.stringify(header));
});

test('protocol: Link headers: several links, quoted and bare rel, several relations, relative URLs, commas in params', () => {
  const base = `${CA}/cert/1`;
  assertEquals(parseLinkHeader(`<${CA}/dir>;rel="index", </cert/1/1>; rel=alternate, <2>;title="a, b";rel="alternate up"`, base), [
    { rel: 'index', url: `${CA}/dir` },
    { rel: 'alternate', url: `${CA}/cert/1/1` },
    { rel: 'alternate', url: `${CA}/cert/2` },
    { rel: 'up', url: `${CA}/cert/2` },
  ]);
  assertEquals(parseLinkHeader('<https://ca.test/issuer>; REL="UP"', base), [{ rel: 'up', url: `${CA}/issuer` }]);
  assertEquals(parseLinkHeader('<https://ca.test/x>', base), []);
  assertEquals(parseLinkHeader('garbage, <unterminated', base), []);
  assertEquals(parseLinkHeader(null, base), []);
});

test('protocol: a problem document is kept whole, subproblems with their identifiers, and formatted on one line', async () => {
  const problem: Problem = {
    type: ACME_ERROR.rejectedIdentifier,
    detail: 'Some identifiers were rejected',
    status: 400,
    instance: `${CA}/docs/rejected`,
    subproblems: [
      { type: ACME_ERROR.caa, detail: 'CAA record forbids issuance', identifier: { type: 'dns', value: 'b.example.com' } },
      { type: ACME_ERROR.rejectedIdentifier, detail: 'Policy forbids issuing for name', identifier: { type: 'dns', value: 'c.example' } },
    ],
    algorithms: ['ES256'],
  };
  const ca = new FakeCa(() => ({ status: 400, body: problem }));
  const { client } = fakeClient(ca, await accountKey());
  const error = (await assertRejects(() => client.newOrder({ identifiers: [{ type: 'dns', value: 'b.example.com' }] }), AcmeError)) as AcmeError;
  assertEquals(error.problem, problem);
  assertEquals(error.url, DIRECTORY.newOrder);
  assertEquals(error.status, 400);
  assertEquals(error.message, 'Cannot create order: urn:ietf:params:acme:error:rejectedIdentifier: Some identifiers were rejected ('
    + 'urn:ietf:params:acme:error:caa for b.example.com: CAA record forbids issuance; '
    + 'urn:ietf:params:acme:error:rejectedIdentifier for c.example: Policy forbids issuing for name)');
  assertEquals(formatProblem(problem.subproblems![0]!), 'urn:ietf:params:acme:error:caa for b.example.com: CAA record forbids issuance');
});

test('protocol: parseProblem drops malformed parts but keeps the rest; a non-problem becomes about:blank', () => {
  assertEquals(parseProblem({ type: 'urn:x', detail: 5, identifier: 'a', subproblems: [{ detail: 'no type' }, { type: 'urn:y' }], extra: true }, 400, 'unused'),
    { type: 'urn:x', detail: '5', subproblems: [{ type: 'urn:y' }], extra: true });
  assertEquals(parseProblem('<html>', 502, 'HTTP 502'), { type: 'about:blank', detail: 'HTTP 502', status: 502 });
  assertEquals(parseProblem([{ type: 'urn:x' }], 400, 'HTTP 400'), { type: 'about:blank', detail: 'HTTP 400', status: 400 });
});

test('protocol: an answer with the wrong content type, or that is not JSON, is refused with the URL', async () => {
  const html = new FakeCa(() => ({ body: '<html></html>', contentType: 'text/html' }));
  const key = await accountKey();
  await assertRejects(() => fakeClient(html, key).client.getOrder(ORDER), UnexpectedResponseError,
    `Cannot fetch order ${ORDER}: ${ORDER} answered with content type text/html, expected application/json`);
  const broken = new FakeCa(() => ({ body: '{"status":', contentType: 'application/json; charset=utf-8' }));
  await assertRejects(() => fakeClient(broken, key).client.getOrder(ORDER), UnexpectedResponseError, `Cannot fetch order ${ORDER}: the response from ${ORDER} is not JSON`);
  const shapeless = new FakeCa(() => ({ body: { status: 'pending', identifiers: [] } }));
  await assertRejects(() => fakeClient(shapeless, key).client.getOrder(ORDER), UnexpectedResponseError, `Cannot read order ${ORDER}: "authorizations" is not an array`);
  const oddStatus = new FakeCa(() => ({ body: orderBody('done') }));
  await assertRejects(() => fakeClient(oddStatus, key).client.getOrder(ORDER), UnexpectedResponseError,
    `Cannot read order ${ORDER}: status "done" is not one of pending, ready, processing, valid, invalid`);
});

test('protocol: response bodies are bounded, by Content-Length and while streaming', async () => {
  const key = await accountKey();
  const declared = new FakeCa(() => ({ body: 'x', contentType: 'application/json', headers: { 'content-length': String(MAX_RESPONSE_BYTES + 1) } }));
  await assertRejects(() => fakeClient(declared, key).client.getOrder(ORDER), UnexpectedResponseError,
    `Cannot fetch order ${ORDER}: the response from ${ORDER} is larger than ${MAX_RESPONSE_BYTES} bytes`);
  let pulled = 0;
  let cancelled = false;
  const endless = new FakeCa(() => new Response(new ReadableStream({
    pull(controller) {
      pulled++;
      controller.enqueue(new Uint8Array(64 * 1024));
    },
    cancel() {
      cancelled = true;
    },
  }), { headers: { 'content-type': 'application/json', 'replay-nonce': 'n1' } }));
  await assertRejects(() => fakeClient(endless, key).client.getOrder(ORDER), UnexpectedResponseError, 'is larger than');
  assert(cancelled, 'the endless body was cancelled');
  assert(pulled <= MAX_RESPONSE_BYTES / (64 * 1024) + 2, `read ${pulled} chunks`);
});

test('protocol: request bodies are bounded', async () => {
  const ca = new FakeCa(() => okOrder());
  const { client } = fakeClient(ca, await accountKey());
  const order = readOrder(orderBody('ready'), ORDER);
  await assertRejects(() => client.finalize(order, new Uint8Array(MAX_REQUEST_BYTES)), RangeError, `Cannot finalize order ${ORDER}: the request is`);
  assertEquals(ca.calls.filter((call) => call.startsWith('POST')), []);
});

test('protocol: the directory must be https unless loopback; loopback http is allowed', async () => {
  const key = await accountKey();
  for (const url of ['http://ca.example/dir', 'http://128.0.0.1/dir', 'http://[::2]/dir', 'http://localhost.example/dir']) {
    await assertRejects(() => AcmeClient.create(url, { accountKey: key, fetch: () => Promise.reject(new Error('no request expected')) }), TypeError,
      `Cannot use directory URL ${url}: ACME requires https unless the host is loopback (127.0.0.0/8, ::1, localhost)`);
  }
  assertThrows(() => checkAcmeUrl('ca.example/dir', 'directory URL'), TypeError, 'Cannot use directory URL "ca.example/dir": it is not an absolute URL');
  assertThrows(() => checkAcmeUrl('ftp://ca.example/dir', 'directory URL'), TypeError, 'ACME requires https');
  for (const base of ['http://127.0.0.1:14000', 'http://127.8.9.10', 'http://localhost:4001', 'http://[::1]:4001', 'https://ca.example']) {
    const directory = { ...DIRECTORY, newNonce: `${base}/nonce`, newAccount: `${base}/acct`, newOrder: `${base}/order` };
    const client = await AcmeClient.create(`${base}/dir`, { accountKey: key, fetch: async () => Response.json(directory) });
    assertEquals(client.directory.newOrder, `${base}/order`);
  }
});

test('protocol: AcmeClient.create keeps the nonce of the directory answer, so it needs no newNonce HEAD', async () => {
  const ca = new FakeCa((request) => (request.method === 'GET' ? { body: DIRECTORY } : okOrder()));
  const client = await AcmeClient.create(`${CA}/dir`, { accountKey: await accountKey(), accountUrl: `${CA}/account/1`, fetch: ca.fetch });
  await client.getOrder(ORDER);
  assertEquals(ca.calls, ['GET /dir', 'POST /order/1']);
  assertEquals(signedNonces(ca.requests), [ca.nonces[0]]);
  assertEquals((await fetchDirectory(`${CA}/dir`, new Transport({ fetch: ca.fetch }))).newOrder, DIRECTORY.newOrder);
  await assertRejects(() => fetchDirectory('http://ca.example/dir'), TypeError, 'Cannot use directory URL http://ca.example/dir: ACME requires https');
});

test('protocol: a directory that points outside https is refused; meta is read leniently', async () => {
  assertThrows(() => readDirectory({ ...DIRECTORY, newOrder: 'http://ca.example/order' }, `${CA}/dir`), UnexpectedResponseError,
    `Cannot read directory ${CA}/dir: Cannot use "newOrder" URL http://ca.example/order: ACME requires https`);
  assertThrows(() => readDirectory({ newNonce: `${CA}/n` }, `${CA}/dir`), UnexpectedResponseError, `Cannot read directory ${CA}/dir: "newAccount" is missing`);
  const directory = readDirectory({
    ...DIRECTORY,
    renewalInfo: `${CA}/ari`,
    meta: { termsOfService: 7, website: `${CA}/`, caaIdentities: ['ca.test'], externalAccountRequired: true, profiles: { classic: 'Usual', odd: 3 }, future: 'kept' },
  }, `${CA}/dir`);
  assertEquals(directory.meta, { website: `${CA}/`, caaIdentities: ['ca.test'], externalAccountRequired: true, profiles: { classic: 'Usual', odd: '' }, future: 'kept' });
  assertEquals(directory.renewalInfo, `${CA}/ari`);
  assertEquals(readDirectory({ newNonce: `${CA}/n`, newAccount: `${CA}/a`, newOrder: `${CA}/o` }, `${CA}/dir`).meta, {});
});

test('protocol: a challenge token that is not base64url of at least 22 characters is refused', async () => {
  const { client } = fakeClient(new FakeCa(() => okOrder()), await accountKey());
  const authorization = readAuthorization({ status: 'pending', identifier: { type: 'dns', value: 'example.com' }, wildcard: true, challenges: [] }, `${CA}/authz/a`);
  const challenge = (token?: string) => ({ type: 'dns-01', url: `${CA}/chall/1`, status: 'pending' as const, ...(token !== undefined && { token }) });
  for (const [token, shown] of [['../../../etc/passwd', '"../../../etc/passwd"'], ['abc', '"abc"'], ['a'.repeat(21), `"${'a'.repeat(21)}"`],
    ['b'.repeat(300), `"${'b'.repeat(40)}…"`], ['token with spaces and length 40 or more!', '"token with spaces and length 40 or more!"']] as const) {
    await assertRejects(() => client.challengeTask(authorization, challenge(token)), UnexpectedResponseError,
      `Cannot answer challenge ${CA}/chall/1: token ${shown} is not base64url of 22 to 255 characters (RFC 8555 §8.1)`);
  }
  await assertRejects(() => client.challengeTask(authorization, challenge()), UnexpectedResponseError, 'no token is not base64url');
  await assertRejects(() => client.challengeTask(authorization, { ...challenge('a'.repeat(43)), type: 'http-02' }), TypeError,
    'Cannot answer challenge https://ca.test/chall/1: type "http-02" is not one of http-01, dns-01, tls-alpn-01');

  const token = 'evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA';
  const task = await client.challengeTask(authorization, challenge(token));
  const keyAuth = await keyAuthorization(token, client.accountKey);
  assertEquals(task, {
    identifier: { type: 'dns', value: 'example.com' }, wildcard: true, type: 'dns-01', token, keyAuthorization: keyAuth,
    httpPath: `/.well-known/acme-challenge/${token}`, dnsName: '_acme-challenge.example.com', dnsValue: await dns01TxtValue(keyAuth),
    authorizationUrl: `${CA}/authz/a`, challengeUrl: `${CA}/chall/1`,
  });
});

test('protocol: polling starts fast, backs off, and lets Retry-After win', async () => {
  const answers = [{ headers: { 'retry-after': '3' } }, {}, {}];
  const ca = new FakeCa(() => {
    const next = answers.shift();
    return { body: orderBody(next ? 'pending' : 'ready'), ...next };
  });
  const { client, clock } = fakeClient(ca, await accountKey());
  assertEquals((await client.pollOrder(ORDER, ['ready'])).status, 'ready');
  assertEquals(clock.sleeps, [POLL_FIRST_DELAY_MS, 3000, 102, 163]);
});

test('protocol: polling stops at "invalid" and gives up after its timeout with the last status', async () => {
  const invalid = new FakeCa(() => ({ body: orderBody('invalid', { error: { type: ACME_ERROR.unauthorized, detail: 'no' } }) }));
  const order = await fakeClient(invalid, await accountKey()).client.pollOrder(ORDER, ['ready']);
  assertEquals(order.error, { type: ACME_ERROR.unauthorized, detail: 'no' });

  const pending = new FakeCa(() => ({ body: orderBody('pending') }));
  const { client, clock } = fakeClient(pending, await accountKey(), { pollTimeout: 20_000 });
  const error = await assertRejects(() => client.pollOrder(ORDER, ['ready']), undefined, `Cannot wait for order ${ORDER}: still "pending" after 20 s`);
  assertEquals(error.name, 'TimeoutError');
  assert(clock.sleeps.every((ms, i) => i === 0 || ms >= clock.sleeps[i - 1]!), `sleeps grow: ${clock.sleeps}`);
  assertEquals(Math.max(...clock.sleeps), POLL_MAX_DELAY_MS);
  assert(clock.sleeps.reduce((a, b) => a + b, 0) <= 20_000);

  const slow = new FakeCa(() => ({ body: orderBody('processing'), headers: { 'retry-after': '600' } }));
  const third = fakeClient(slow, await accountKey());
  await assertRejects(() => third.client.pollOrder(ORDER, ['valid']), undefined, `still "processing" after 120 s, and the CA asks to retry after`);
  assertEquals(third.clock.sleeps, [POLL_FIRST_DELAY_MS]);
});

test('protocol: pollAuthorization stops at any status but pending', async () => {
  const statuses = ['pending', 'deactivated'];
  const ca = new FakeCa(() => ({ body: { status: statuses.shift(), identifier: { type: 'dns', value: 'a.example.com' }, challenges: [] } }));
  const { client } = fakeClient(ca, await accountKey());
  assertEquals((await client.pollAuthorization(`${CA}/authz/a`, ['valid'])).status, 'deactivated');
});

test('protocol: createAccount sends contact, agreement and EAB, signed with the JWK; 201 is new, 200 is existing', async () => {
  const key = await accountKey();
  let status = 201;
  const ca = new FakeCa(() => ({ status, body: { status: 'valid', contact: ['mailto:a@example.com'] }, headers: { location: '/account/7' } }));
  const { client } = fakeClient(ca, key, { accountUrl: undefined });
  const account = await client.createAccount({ contact: ['mailto:a@example.com'], termsOfServiceAgreed: true, externalAccountBinding: { kid: 'kid-1', hmacKey: 'c2VjcmV0LWtleS1ieXRlcw' } });
  assertEquals(account, { url: `${CA}/account/7`, status: 'valid', contact: ['mailto:a@example.com'], created: true });
  assertEquals(client.accountUrl, `${CA}/account/7`);
  const request = ca.requests.at(-1)!;
  assertEquals(request.headers.get('content-type'), 'application/jose+json');
  assertEquals(request.protected!.jwk, key.publicJwk);
  assertEquals(request.protected!.kid, undefined);
  const payload = request.payload as { contact: string[]; termsOfServiceAgreed: boolean; externalAccountBinding: { protected: string; payload: string } };
  assertEquals(payload.contact, ['mailto:a@example.com']);
  assertEquals(payload.termsOfServiceAgreed, true);
  assertEquals(decodeJson(payload.externalAccountBinding.protected), { alg: 'HS256', kid: 'kid-1', url: DIRECTORY.newAccount });
  assertEquals(decodeJson(payload.externalAccountBinding.payload), key.publicJwk);
  status = 200;
  assertEquals((await client.createAccount()).created, false);
  assertEquals(ca.requests.at(-1)!.payload, {});
});

test('protocol: findAccount sends onlyReturnExisting and answers undefined for accountDoesNotExist', async () => {
  let exists = false;
  const ca = new FakeCa(() => (exists
    ? { body: { status: 'valid' }, headers: { location: `${CA}/account/9` } }
    : { status: 400, body: { type: ACME_ERROR.accountDoesNotExist, detail: 'No account' } }));
  const { client } = fakeClient(ca, await accountKey(), { accountUrl: undefined });
  assertEquals(await client.findAccount(), undefined);
  assertEquals(ca.requests.at(-1)!.payload, { onlyReturnExisting: true });
  exists = true;
  assertEquals(await client.findAccount(), { url: `${CA}/account/9`, status: 'valid' });
  assertEquals(client.accountUrl, `${CA}/account/9`);
  const missing = new FakeCa(() => ({ body: { status: 'valid' } }));
  const missingClient = fakeClient(missing, await accountKey()).client;
  await assertRejects(() => missingClient.findAccount(), UnexpectedResponseError,
    `Cannot read account from ${DIRECTORY.newAccount}: the response has no Location header`);
  assert(isAccountDoesNotExist(new AcmeError('x', { problem: { type: ACME_ERROR.accountDoesNotExist }, status: 400, url: CA })));
});

test('protocol: account reads are POST-as-GET; update, deactivate and key rollover send what §7.3 asks', async () => {
  const oldKey = await accountKey();
  const newKey = await accountKey();
  const ca = new FakeCa((request) => (request.url === DIRECTORY.keyChange ? { status: 200, body: { status: 'valid' } } : { body: { status: 'valid', contact: ['mailto:b@example.com'] } }));
  const { client } = fakeClient(ca, oldKey);
  const url = `${CA}/account/1`;
  await client.getAccount();
  assertEquals(ca.requests.at(-1)!.payload, '');
  assertEquals(ca.requests.at(-1)!.protected!.kid, url);
  await client.updateAccount({ contact: ['mailto:b@example.com'] });
  assertEquals(ca.requests.at(-1)!.payload, { contact: ['mailto:b@example.com'] });
  await client.deactivateAccount();
  assertEquals(ca.requests.at(-1)!.payload, { status: 'deactivated' });

  await client.rolloverKey(newKey);
  const outer = ca.requests.at(-1)!;
  assertEquals(outer.url, DIRECTORY.keyChange);
  assertEquals(outer.protected!.kid, url);
  assertEquals(outer.protected!.alg, 'ES256');
  const inner = outer.payload as { protected: string; payload: string; signature: string };
  assertEquals(decodeJson(inner.protected), { alg: 'ES256', jwk: newKey.publicJwk, url: DIRECTORY.keyChange });
  assertEquals(decodeJson(inner.payload), { account: url, oldKey: oldKey.publicJwk });
  assert(await newKey.engine.verify('ES256', newKey.publicJwk, utf8Encode(`${inner.protected}.${inner.payload}`), base64UrlDecode(inner.signature)), 'the new key signed the inner JWS');
  assertEquals(client.accountKey, newKey);
  await assertRejects(() => client.rolloverKey(newKey), RangeError, 'Cannot roll over the account key: the new key is the current key');
  const noAccount = fakeClient(ca, oldKey, { accountUrl: undefined }).client;
  await assertRejects(() => noAccount.getAccount(), TypeError, 'Cannot fetch account: no account URL yet (call createAccount() or findAccount() first, or pass accountUrl)');
});

test('protocol: newOrder sends identifiers, dates and a known profile; an unknown profile is refused before the request', async () => {
  const ca = new FakeCa(() => ({ status: 201, body: orderBody('pending'), headers: { location: ORDER } }));
  const { client } = fakeClient(ca, await accountKey());
  const order = await client.newOrder({
    identifiers: [{ type: 'dns', value: 'a.example.com' }, { type: 'ip', value: '192.0.2.1' }],
    notAfter: new Date('2026-02-01T00:00:00Z'), profile: 'shortlived', replaces: 'aaa.bbb',
  });
  assertEquals(order.url, ORDER);
  assertEquals(order.authorizations, [`${CA}/authz/a`]);
  assertEquals(ca.requests.at(-1)!.payload, {
    identifiers: [{ type: 'dns', value: 'a.example.com' }, { type: 'ip', value: '192.0.2.1' }], notAfter: '2026-02-01T00:00:00.000Z', profile: 'shortlived', replaces: 'aaa.bbb',
  });
  const before = ca.requests.length;
  await assertRejects(() => client.newOrder({ identifiers: [{ type: 'dns', value: 'a.example.com' }], profile: 'tlsserver' }), RangeError,
    'Unknown profile "tlsserver": the CA offers classic (The usual), shortlived (Six days)');
  await assertRejects(() => client.newOrder({ identifiers: [] }), RangeError, 'Cannot create order: no identifiers');
  await assertRejects(() => client.newOrder({ identifiers: [{ type: 'dns', value: 'a.example.com' }], notBefore: new Date(NaN) }), RangeError, 'Cannot create order: notBefore is an invalid date');
  assertEquals(ca.requests.length, before);
});

test('protocol: revocation is signed by the account (kid) or by the certificate key (jwk), with a reason', async () => {
  const ca = new FakeCa(() => ({ status: 200 }));
  const { client } = fakeClient(ca, await accountKey());
  const der = new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01]);
  await client.revokeCertificate(der, { reason: 4 });
  assertEquals(ca.requests.at(-1)!.payload, { certificate: base64UrlEncode(der), reason: 4 });
  assertEquals(ca.requests.at(-1)!.protected!.kid, `${CA}/account/1`);
  const certificateKey: AcmeKey = await accountKey();
  await client.revokeCertificate(der, { certificateKey });
  assertEquals(ca.requests.at(-1)!.payload, { certificate: base64UrlEncode(der) });
  assertEquals(ca.requests.at(-1)!.protected!.jwk, certificateKey.publicJwk);
  assertEquals(ca.requests.at(-1)!.protected!.kid, undefined);
  await assertRejects(() => client.revokeCertificate(der, { reason: 7 as never }), RangeError, 'Cannot revoke certificate: reason 7 is not an RFC 5280 §5.3.1 CRLReason (0-10 except 7)');
  const already = new FakeCa(() => ({ status: 400, body: { type: ACME_ERROR.alreadyRevoked, detail: 'Certificate already revoked' } }));
  await assertRejects(() => fakeClient(already, certificateKey).client.revokeCertificate(der), AcmeError,
    'Cannot revoke certificate: urn:ietf:params:acme:error:alreadyRevoked: Certificate already revoked');
});

test('protocol: the trace shows each exchange with its decoded JWS, on one line each, and no secret', async () => {
  const lines: string[] = [];
  const key = await accountKey();
  const ca = new FakeCa(() => ({ status: 201, body: '{\n  "status": "valid"\n}', contentType: 'application/json', headers: { location: '/account/3' } }));
  const { client } = fakeClient(ca, key, { accountUrl: undefined, trace: (line) => lines.push(line) });
  const hmacKey = 'c2VjcmV0LWtleS1ieXRlcy1ub3QtaW4tdHJhY2U';
  await client.createAccount({ termsOfServiceAgreed: true, externalAccountBinding: { kid: 'kid-1', hmacKey } });
  assertEquals(lines.length, 4);
  assertEquals(lines[0], `→ HEAD ${DIRECTORY.newNonce}`);
  assert(lines[1]!.startsWith(`← 200 ${DIRECTORY.newNonce}`), lines[1]);
  assert(lines[2]!.startsWith(`→ POST ${DIRECTORY.newAccount} {"alg":"ES256","jwk":`), lines[2]);
  assert(lines[2]!.includes('"termsOfServiceAgreed":true'), lines[2]);
  assertEquals(lines[3], `← 201 ${DIRECTORY.newAccount} location=/account/3 {"status":"valid"}`);
  const all = lines.join('\n');
  assert(!all.includes(hmacKey) && !all.includes((key.privateJwk as { d: string }).d), 'no secret in the trace');
});

test('protocol: a CA that never answers is given up after the request timeout, naming the request', async () => {
  // Answers only by failing once the request's signal aborts, as a stalled TCP connection would; the open timer
  // stands for that connection, which keeps a real process alive (Node's timeout timers alone do not).
  const silent = ((_url: string, init: RequestInit) =>
    new Promise((_resolve, reject) => {
      const connection = setTimeout(() => {}, 10_000);
      init.signal!.addEventListener('abort', () => {
        clearTimeout(connection);
        reject(init.signal!.reason);
      }, { once: true });
    })) as typeof fetch;
  const key = await accountKey();
  const error = await assertRejects(() => AcmeClient.create('https://127.0.0.1:1/dir', { accountKey: key, fetch: silent, requestTimeout: 20, retry: { maxTries: 1 } }), Error,
    'Cannot fetch directory https://127.0.0.1:1/dir: 127.0.0.1:1 gave no complete answer within 0.02 s');
  assertEquals((error.cause as Error).name, 'TimeoutError');
});
