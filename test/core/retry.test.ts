// The retry policy against a scripted CA on a virtual clock with fixed jitter: which faults are retried and how
// long each wait is, the bounds per request and per run, the one-line messages, and the requests whose answer was
// lost after the CA acted on them, each recovered by reading state (RFC 8555 §7.3.1, §7.3.5, §7.4, §7.5.1, §7.6).

import { assert, assertEquals, assertRejects, test } from '../_harness.ts';
import { CA, DIRECTORY, FakeCa, VirtualClock, fakeClient, orderBody, type Handler, type Recorded } from './_fake-ca.ts';
import { ACME_ERROR, AcmeError } from '../../core/errors.ts';
import { DEFAULT_RETRY_POLICY, backoffDelay, worstFaultTimeMs, type RetryPolicy } from '../../core/retry.ts';
import { generateKey, type AcmeKey } from '../../core/keys.ts';
import { AcmeClient } from '../../core/client.ts';
import { readDirectory, readOrder } from '../../core/responses.ts';
import { Transport } from '../../core/http.ts';

const ORDER = `${CA}/order/1`;
const HOST = 'ca.test:443';
/** Half of each backoff's cap: 500, 1000, 2000, 4000, 4000 ms. */
const HALF: Partial<RetryPolicy> = { random: () => 0.5 };

/** A failure the way Node's fetch reports one: a TypeError whose cause carries the socket's code. */
function socketError(code: string, message = `read ${code}`): TypeError {
  return new TypeError('fetch failed', { cause: Object.assign(new Error(message), { code }) });
}

const reset = () => {
  throw socketError('ECONNRESET');
};

/** A 200 whose body stops halfway with a reset, as a cut connection looks to the reader. */
function cutBody(body: unknown): Response {
  const bytes = new TextEncoder().encode(JSON.stringify(body));
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(bytes.slice(0, bytes.length >> 1));
      controller.error(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }));
    },
  });
  return new Response(stream, { status: 200, headers: { 'content-type': 'application/json', 'replay-nonce': 'cut-nonce' } });
}

/** Answers with `faults` in turn (each one a reply, a thrown error, or a Response), then with `ok`. */
function afterFaults(faults: Handler[], ok: Handler): Handler {
  let count = 0;
  return (request) => (count < faults.length ? faults[count++]!(request) : ok(request));
}

const posts = (ca: FakeCa, path: string) => ca.calls.filter((call) => call === `POST ${path}`).length;
let key: AcmeKey;
const accountKey = async () => (key ??= await generateKey('ec256'));

test('retry: backoff is full jitter under a doubling cap: 1, 2, 4, 8, 8 s at most', () => {
  const table: [number, number[]][] = [
    [0, [0, 0, 0, 0, 0]],
    [0.5, [500, 1000, 2000, 4000, 4000]],
    [0.999, [999, 1998, 3996, 7992, 7992]],
  ];
  for (const [random, waits] of table) {
    assertEquals([1, 2, 3, 4, 5].map((retry) => backoffDelay({ ...DEFAULT_RETRY_POLICY, random: () => random }, retry)), waits, `random ${random}`);
  }
});

test('retry: a CA that is down fails a run well within two minutes, by the default policy\'s own bound', () => {
  // A request's first try may use the whole 60 s request timeout; after any fault, tries (at least 5 s each) and
  // waits share the budget.
  assertEquals(worstFaultTimeMs(DEFAULT_RETRY_POLICY, 60_000), 65_000);
  // One request alone: 4 waits of at most 1 + 2 + 4 + 8 s.
  const waits = [1, 2, 3, 4].map((retry) => backoffDelay({ ...DEFAULT_RETRY_POLICY, random: () => 0.9999 }, retry));
  assert(waits.reduce((sum, wait) => sum + wait, 0) < 15_000, String(waits));
});

test('retry: a reset, a cut body, 500, 502 with HTML, 503 and 504 are each retried with a fresh nonce', async () => {
  const faults: Handler[] = [
    reset,
    () => cutBody(orderBody('pending')),
    () => ({ status: 500, body: { type: ACME_ERROR.serverInternal, detail: 'oops' } }),
    () => ({ status: 502, body: '<html><body>Bad Gateway</body></html>', contentType: 'text/html', noNonce: true }),
    () => ({ status: 503, body: { type: ACME_ERROR.serverInternal, detail: 'busy' } }),
  ];
  for (const fault of [...faults, () => ({ status: 504, body: 'Gateway Timeout', contentType: 'text/plain', noNonce: true })]) {
    const ca = new FakeCa(afterFaults([fault], () => ({ body: orderBody('pending') })));
    const { client, clock } = fakeClient(ca, await accountKey(), { retry: HALF });
    assertEquals((await client.getOrder(ORDER)).status, 'pending');
    assertEquals(clock.sleeps, [500]);
    const nonces = ca.requests.filter((request) => request.method === 'POST').map((request) => request.protected!.nonce);
    assertEquals(nonces.length, 2);
    assert(nonces[0] !== nonces[1], 'the retry is signed with another nonce');
  }
});

test('retry: each request has its try limit; the message names the request, the CA, the cause, the tries and the time', async () => {
  const ca = new FakeCa(reset);
  const { client, clock } = fakeClient(ca, await accountKey(), { retry: HALF });
  const error = await assertRejects(() => client.getOrder(ORDER), Error, `Cannot fetch order ${ORDER}: the connection to ${HOST} was reset (5 tries in 8 s)`);
  assertEquals((error.cause as Error).message, 'fetch failed');
  assertEquals(clock.sleeps, [500, 1000, 2000, 4000]);
  assertEquals(posts(ca, '/order/1'), 5);

  const gateway = new FakeCa(() => ({ status: 502, body: '<html>Bad Gateway</html>', contentType: 'text/html', noNonce: true }));
  const second = fakeClient(gateway, await accountKey(), { retry: HALF });
  const bad = await assertRejects(() => second.client.getOrder(ORDER), AcmeError,
    `Cannot fetch order ${ORDER}: about:blank: HTTP 502 with a text/html body from ${HOST} (5 tries in 8 s)`);
  assertEquals((bad as AcmeError).status, 502);

  const cut = new FakeCa(() => cutBody(orderBody('pending')));
  const third = fakeClient(cut, await accountKey(), { retry: { ...HALF, maxTries: 2 } });
  await assertRejects(() => third.client.getOrder(ORDER), Error, `Cannot fetch order ${ORDER}: the answer from ${HOST} broke off before its end (2 tries in 1 s)`);
});

test('retry: other 4xx problems, and 429 without Retry-After, are never retried', async () => {
  for (const [status, type] of [[400, ACME_ERROR.malformed], [403, ACME_ERROR.unauthorized], [404, ACME_ERROR.malformed], [429, ACME_ERROR.rateLimited]] as const) {
    const ca = new FakeCa(() => ({ status, body: { type, detail: 'no' } }));
    const { client, clock } = fakeClient(ca, await accountKey(), { retry: HALF });
    await assertRejects(() => client.getOrder(ORDER), AcmeError, `Cannot fetch order ${ORDER}: ${type}: no`);
    assertEquals([posts(ca, '/order/1'), clock.sleeps.length], [1, 0], String(status));
  }
});

test('retry: Retry-After is honoured, also on a 503; one beyond the run\'s budget fails at once with the time', async () => {
  const ca = new FakeCa(afterFaults([() => ({ status: 503, body: { type: ACME_ERROR.serverInternal }, headers: { 'retry-after': '7' } })], () => ({ body: orderBody('pending') })));
  const { client, clock } = fakeClient(ca, await accountKey(), { retry: HALF });
  await client.getOrder(ORDER);
  assertEquals(clock.sleeps, [7000]);

  const maintenance = new FakeCa(() => ({ status: 503, body: { type: ACME_ERROR.serverInternal, detail: 'maintenance' }, headers: { 'retry-after': '600' } }));
  const second = fakeClient(maintenance, await accountKey(), { retry: HALF });
  const until = new Date(second.clock.time + 600_000).toISOString();
  const error = await assertRejects(() => second.client.getOrder(ORDER), AcmeError, `Cannot fetch order ${ORDER}: urn:ietf:params:acme:error:serverInternal: `
    + `maintenance from ${HOST} (retry after ${until}; the CA asks to retry after 600 s, beyond the 60 s this run waits for a CA)`);
  assertEquals((error as AcmeError).retryAfter, new Date(until));
  assertEquals(second.clock.sleeps, []);
});

test('retry: the run\'s budget is shared by its requests: once spent, the next fault ends the run', async () => {
  const ca = new FakeCa(reset);
  const { client, clock } = fakeClient(ca, await accountKey(), { retry: { random: () => 0.9999, budgetMs: 10_000 } });
  await assertRejects(() => client.getOrder(ORDER), Error, `Cannot fetch order ${ORDER}: the connection to ${HOST} was reset `
    + '(4 tries in 7 s; the 10 s this run waits for a CA are spent)');
  assertEquals(clock.sleeps, [999, 1999, 3999]);
  // The next request has 3 s left: waits of 1 and 2 s fit, one of 4 s does not; then nothing is left.
  await assertRejects(() => client.getOrder(ORDER), Error, /\(3 tries in 3 s; the 10 s this run waits for a CA are spent\)$/);
  await assertRejects(() => client.getOrder(ORDER), Error, /\(1 try in 0 s; the 10 s this run waits for a CA are spent\)$/);
  assert(clock.sleeps.reduce((sum, wait) => sum + wait, 0) <= 10_000, String(clock.sleeps));

  // Ten requests to a dead CA under the default policy: never more than its minute of waits in all.
  const dead = new FakeCa(() => {
    throw socketError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:443');
  });
  const second = fakeClient(dead, await accountKey(), { retry: { random: () => 0.9999 } });
  for (let i = 0; i < 10; i++) await assertRejects(() => second.client.getOrder(ORDER), Error, `the connection to ${HOST} was refused`);
  assert(second.clock.sleeps.reduce((sum, wait) => sum + wait, 0) <= DEFAULT_RETRY_POLICY.budgetMs, String(second.clock.sleeps));
});

test('retry: transports from share() use one nonce pool, and each has a budget and a trace of its own', async () => {
  const DOWN = `${CA}/order/down`;
  let flaky = 0;
  const ca = new FakeCa((request) => {
    if (request.url === DOWN || (request.url === `${CA}/order/flaky` && flaky++ === 0)) return reset();
    return { body: orderBody('pending') };
  });
  const clock = new VirtualClock();
  const base = new Transport({ fetch: ca.fetch, now: clock.now, sleep: clock.sleep, retry: { random: () => 0.9999, budgetMs: 10_000 } });
  const lines: Record<string, string[]> = { a: [], b: [] };
  const client = (name: string) => new AcmeClient(readDirectory(DIRECTORY, `${CA}/dir`),
    { accountKey: key, accountUrl: `${CA}/account/1` }, base.share({ trace: (line) => lines[name]!.push(line) }));
  await accountKey();
  const [a, b] = [client('a'), client('b')];
  await a.getOrder(ORDER);
  await b.getOrder(ORDER);
  // b signed with the nonce that a's answer brought back.
  assertEquals(ca.calls.filter((call) => call.startsWith('HEAD')).length, 1);
  await assertRejects(() => a.getOrder(DOWN), Error, /\(4 tries in 7 s; the 10 s this run waits for a CA are spent\)$/);
  // a's spent budget is not b's: b's request is still retried after a reset.
  assertEquals((await b.getOrder(`${CA}/order/flaky`)).status, 'pending');
  assert(lines.a!.some((line) => line.includes('/order/down')) && !lines.b!.some((line) => line.includes('/order/down')), lines.b!.join('\n'));
});

test('retry: failures another try would repeat are not retried, and say why', async () => {
  const cases: [unknown, string][] = [
    [socketError('ENOTFOUND', 'getaddrinfo ENOTFOUND ca.test'), 'the name ca.test does not resolve (getaddrinfo ENOTFOUND ca.test)'],
    [socketError('DEPTH_ZERO_SELF_SIGNED_CERT', 'self-signed certificate'), `the TLS certificate of ${HOST} is not trusted (self-signed certificate)`],
    // An adapter's own refusal carries a code no network failure has.
    [Object.assign(new TypeError('Cannot fetch: it redirects to /x, and redirects are refused'), { code: 'ERR_FETCH_REDIRECT' }),
      `POST ${ORDER} failed: Cannot fetch: it redirects to /x, and redirects are refused`],
  ];
  for (const [error, reason] of cases) {
    const ca = new FakeCa(() => {
      throw error;
    });
    const { client, clock } = fakeClient(ca, await accountKey(), { retry: HALF });
    await assertRejects(() => client.getOrder(ORDER), Error, `Cannot fetch order ${ORDER}: ${reason}`);
    assertEquals([posts(ca, '/order/1'), clock.sleeps.length], [1, 0], reason);
  }
});

test('retry: a browser\'s bare TypeError is retried and named with its host', async () => {
  const ca = new FakeCa(afterFaults([() => {
    throw new TypeError('Failed to fetch');
  }], () => ({ body: orderBody('pending') })));
  const { client } = fakeClient(ca, await accountKey(), { retry: HALF });
  assertEquals((await client.getOrder(ORDER)).status, 'pending');
  const dead = new FakeCa(() => {
    throw new TypeError('Failed to fetch');
  });
  const second = fakeClient(dead, await accountKey(), { retry: { ...HALF, maxTries: 2 } });
  const error = await assertRejects(() => second.client.getOrder(ORDER), Error, `Cannot fetch order ${ORDER}: the request to ${HOST} failed (Failed to fetch) (2 tries in 1 s)`);
  assert(error.cause instanceof TypeError, 'the page tells a failed fetch by its TypeError cause');
});

test('retry: an abort during a wait ends the request at once', async () => {
  const controller = new AbortController();
  const ca = new FakeCa(reset);
  const { client } = fakeClient(ca, await accountKey(), {
    retry: HALF,
    signal: controller.signal,
    sleep: async () => {
      controller.abort();
      throw controller.signal.reason;
    },
  });
  const error = await assertRejects(() => client.getOrder(ORDER));
  assertEquals(error.name, 'AbortError');
  assertEquals(posts(ca, '/order/1'), 1);
});

test('retry: with half of all nonces rejected, requests still go through, and the badNonce retries cost no wait', async () => {
  let count = 0;
  const ca = new FakeCa(() => (++count % 2 === 1 ? { status: 400, body: { type: ACME_ERROR.badNonce } } : { body: orderBody('pending') }));
  const { client, clock } = fakeClient(ca, await accountKey());
  for (let i = 0; i < 20; i++) await client.getOrder(ORDER);
  assertEquals(clock.sleeps, []);
});

/** A CA whose order moves to "processing" when finalized, and whose answer to the finalize is lost `lost` times. */
function finalizingCa(lost: number) {
  let status = 'ready';
  let lostLeft = lost;
  return new FakeCa((request: Recorded) => {
    if (request.url === `${CA}/order/1/finalize`) {
      status = 'processing';
      if (lostLeft-- > 0) reset();
    }
    return { body: orderBody(status) };
  });
}

test('retry: a finalize whose answer was lost is followed by reading the order, not a second CSR (RFC 8555 §7.4)', async () => {
  const ca = finalizingCa(1);
  const { client } = fakeClient(ca, await accountKey(), { retry: HALF });
  const order = readOrder(orderBody('ready'), ORDER);
  assertEquals((await client.finalize(order, new Uint8Array([48, 0]))).status, 'processing');
  assertEquals(ca.calls, ['HEAD /nonce', 'POST /order/1/finalize', 'HEAD /nonce', 'POST /order/1']);

  // A finalize that never reached the CA leaves the order "ready": then the CSR goes again.
  let status = 'ready';
  let first = true;
  const unreached = new FakeCa((request) => {
    if (request.url === `${CA}/order/1/finalize`) {
      if (first) {
        first = false;
        throw socketError('ECONNREFUSED');
      }
      status = 'valid';
    }
    return { body: orderBody(status, status === 'valid' ? { certificate: `${CA}/cert/1` } : {}) };
  });
  const second = fakeClient(unreached, await accountKey(), { retry: HALF });
  assertEquals((await second.client.finalize(order, new Uint8Array([48, 0]))).status, 'valid');
  assertEquals(unreached.calls, ['HEAD /nonce', 'POST /order/1/finalize', 'HEAD /nonce', 'POST /order/1', 'POST /order/1/finalize']);
});

test('retry: after a lost challenge response the challenge is read, and the response sent again only if the CA shows no sign of it (RFC 8555 §7.5.1)', async () => {
  const url = `${CA}/chall/1`;
  const token = 'evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA';
  // What the CA did with the first response before its answer was lost: moved the challenge on (Boulder), began
  // validating while it still says "pending" (Pebble 2.4), nothing (the request never reached it), or nothing until
  // just after the challenge was read, so that the second response is refused.
  for (const acted of ['processing', 'validating', 'nothing', 'after the read'] as const) {
    let state = { status: 'pending', validated: undefined as string | undefined };
    let posted = 0;
    let reads = 0;
    const challenge = () => ({ body: { type: 'http-01', url, token, ...state } });
    const ca = new FakeCa((request) => {
      if (request.payload === '') {
        const read = challenge();
        if (reads++ === 0 && acted === 'after the read') state = { status: 'processing', validated: undefined };
        return read;
      }
      if (state.status !== 'pending' || state.validated) return { status: 400, body: { type: ACME_ERROR.malformed, detail: `Cannot update challenge with status ${state.status}` } };
      if (posted++ === 0) {
        if (acted === 'processing') state = { status: 'processing', validated: undefined };
        if (acted === 'validating') state = { status: 'pending', validated: '2026-12-07T03:00:00Z' };
        reset();
      }
      return challenge();
    });
    const { client } = fakeClient(ca, await accountKey(), { retry: HALF });
    const answered = await client.respondToChallenge(url);
    assertEquals(answered.status, acted === 'validating' || acted === 'nothing' ? 'pending' : 'processing', acted);
    const sentAgain = acted === 'nothing' || acted === 'after the read';
    assertEquals(ca.requests.filter((request) => request.method === 'POST' && request.payload !== '').length, sentAgain ? 2 : 1, `${acted}: responses sent`);
  }
  // Without a lost answer, the CA's refusal stays an error.
  const refusing = new FakeCa(() => ({ status: 400, body: { type: ACME_ERROR.malformed, detail: 'Cannot update challenge with status valid' } }));
  const second = fakeClient(refusing, await accountKey(), { retry: HALF });
  await assertRejects(() => second.client.respondToChallenge(url), AcmeError, 'Cannot update challenge with status valid');
});

test('retry: a lost key rollover is checked by asking which key the account has (RFC 8555 §7.3.5)', async () => {
  for (const acted of [true, false]) {
    const newKey = await generateKey('ec256');
    let rolled = false;
    let lost = true;
    const ca = new FakeCa((request) => {
      if (request.url === DIRECTORY.keyChange) {
        if (acted || !lost) rolled = true;
        if (lost) {
          lost = false;
          reset();
        }
        return { status: 200 };
      }
      if (request.url === DIRECTORY.newAccount) {
        const signedByNew = JSON.stringify(request.protected!.jwk) === JSON.stringify(newKey.publicJwk);
        return rolled && signedByNew ? { body: { status: 'valid' }, headers: { location: `${CA}/account/1` } }
          : { status: 400, body: { type: ACME_ERROR.accountDoesNotExist } };
      }
      return { status: 404 };
    });
    const { client } = fakeClient(ca, await accountKey(), { retry: HALF });
    await client.rolloverKey(newKey);
    assertEquals(client.accountKey, newKey);
    assertEquals(posts(ca, '/key-change'), acted ? 1 : 2, `acted ${acted}`);
    assertEquals(posts(ca, '/new-account'), 1);
  }
});

test('retry: a lost revocation is sent again, and "alreadyRevoked" then counts as done (RFC 8555 §7.6)', async () => {
  let revoked = false;
  const ca = new FakeCa(() => {
    if (revoked) return { status: 400, body: { type: ACME_ERROR.alreadyRevoked, detail: 'Certificate already revoked' } };
    revoked = true;
    return reset();
  });
  const { client } = fakeClient(ca, await accountKey(), { retry: HALF });
  await client.revokeCertificate(new Uint8Array([48, 0]));
  assertEquals(posts(ca, '/revoke'), 2);
  // Without a lost answer, alreadyRevoked stays the CA's error: the caller decides what it means.
  await assertRejects(() => client.revokeCertificate(new Uint8Array([48, 0])), AcmeError, 'alreadyRevoked');
});

test('retry: a lost newAccount is sent again and finds the account the first one made (RFC 8555 §7.3.1)', async () => {
  let created = false;
  const ca = new FakeCa(() => {
    if (!created) {
      created = true;
      return reset();
    }
    return { status: 200, body: { status: 'valid' }, headers: { location: `${CA}/account/7` } };
  });
  const { client } = fakeClient(ca, await accountKey(), { retry: HALF, accountUrl: undefined as never });
  const account = await client.createAccount({ termsOfServiceAgreed: true });
  assertEquals([account.url, account.created, posts(ca, '/new-account')], [`${CA}/account/7`, false, 2]);
});
