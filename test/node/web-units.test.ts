// The page's pure parts, without a browser: its messages for CA problems and network failures, and the DNS-over-HTTPS
// reading in adapters/browser.ts, fed recorded resolver answers through an injected fetch.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AcmeError } from '../../core/errors.ts';
import { describeError, formatRetryTime, isFetchFailure, problemText, retryTimeInDetail } from '../../web/messages.ts';
import { dohAnswers, lookupTxt, txtData } from '../../adapters/browser.ts';

const context = { directoryUrl: 'https://acme.example/directory' };

test('a rate limit names the CA\'s detail and the Retry-After time, local and UTC', () => {
  const retryAfter = new Date('2031-05-04T03:02:00Z');
  const error = new AcmeError('Cannot create order: rateLimited', {
    problem: { type: 'urn:ietf:params:acme:error:rateLimited', detail: 'too many certificates (5) already issued for this exact set of names' },
    status: 429, url: 'https://acme.example/new-order', retryAfter,
  });
  const message = describeError(error, context);
  assert.ok(message.startsWith('The CA is limiting requests like this one: too many certificates (5) already issued'), message);
  assert.ok(message.includes(`Try again after ${formatRetryTime(retryAfter)}.`), message);
  assert.match(formatRetryTime(retryAfter), /\(2031-05-04 03:02 UTC\)$/);
});

test('a rate limit whose Retry-After the browser cannot read: the time comes from Boulder\'s detail', () => {
  const detail = 'too many certificates (5) already issued for this exact set of identifiers in the last 168h0m0s, retry after 2025-12-31 04:04:56 UTC: see https://letsencrypt.org/docs/rate-limits/';
  const error = new AcmeError('x', { problem: { type: 'urn:ietf:params:acme:error:rateLimited', detail }, status: 429, url: 'https://acme.example/new-order' });
  assert.deepEqual(retryTimeInDetail(detail), new Date('2025-12-31T04:04:56Z'));
  assert.deepEqual(retryTimeInDetail('retry after 2025-12-31T04:04:56Z'), new Date('2025-12-31T04:04:56Z'));
  assert.equal(retryTimeInDetail('retry after 2025-13-45 99:00:00 UTC'), undefined);
  assert.equal(retryTimeInDetail('retry later'), undefined);
  assert.ok(describeError(error, context).endsWith(`Try again after ${formatRetryTime(new Date('2025-12-31T04:04:56Z'))}.`));
});

test('a rate limit without Retry-After says the CA gave no time', () => {
  const error = new AcmeError('x', { problem: { type: 'urn:ietf:params:acme:error:rateLimited' }, status: 429, url: 'https://acme.example/new-order' });
  assert.equal(describeError(error, context), 'The CA is limiting requests like this one: urn:ietf:params:acme:error:rateLimited. The CA gave no time to try again; wait before retrying.');
});

test('a CA problem keeps the name it is about and each subproblem with its identifier (RFC 8555 §6.7.1)', () => {
  const single = new AcmeError('x', {
    problem: { type: 'urn:ietf:params:acme:error:dns', detail: 'NXDOMAIN looking up TXT for _acme-challenge.a.example' },
    status: 400, url: 'https://acme.example/chall/1', identifier: { type: 'dns', value: 'a.example' },
  });
  assert.equal(describeError(single, context), 'The CA refused a.example: NXDOMAIN looking up TXT for _acme-challenge.a.example (dns)');
  const compound = new AcmeError('x', {
    problem: {
      type: 'urn:ietf:params:acme:error:compound', detail: '2 identifiers failed validation',
      subproblems: [
        { type: 'urn:ietf:params:acme:error:caa', detail: 'CAA record forbids issuance', identifier: { type: 'dns', value: 'b.example' } },
        { type: 'urn:ietf:params:acme:error:unauthorized', identifier: { type: 'dns', value: '*.c.example' } },
      ],
    },
    status: 403, url: 'https://acme.example/order/1',
  });
  assert.equal(describeError(compound, context), [
    'The CA refused: 2 identifiers failed validation (compound)',
    '• b.example: CAA record forbids issuance (caa)',
    '• *.c.example: unauthorized',
  ].join('\n'));
  assert.equal(problemText({ type: 'about:blank', detail: 'HTTP 502' }), 'HTTP 502 (about:blank)');
});

test('network failures: CORS refusal names ZeroSSL, an unreachable CA is named by host', () => {
  const failure = new Error('Cannot fetch directory: GET https://acme.example/directory failed: Failed to fetch', { cause: new TypeError('Failed to fetch') });
  assert.equal(isFetchFailure(failure), true);
  assert.equal(isFetchFailure(new TypeError('Cannot use directory URL: not https')), false);
  assert.equal(isFetchFailure(new Error('plain')), false);
  assert.match(describeError(failure, { ...context, network: 'no-cors' }), /^The CA at acme\.example answered, but it does not allow web pages to use it: .*ZeroSSL/);
  assert.match(describeError(failure, { ...context, network: 'unreachable' }), /^Cannot reach the CA at acme\.example: no answer came back/);
  assert.equal(describeError(new RangeError('Invalid name "a..b": it has an empty label'), context), 'Invalid name "a..b": it has an empty label');
  assert.equal(describeError('odd', context), 'odd');
});

test('TXT data: quoted character-strings are joined and unescaped (RFC 1035 §5.1); unquoted data is kept', () => {
  const table: [string, string][] = [
    ['"abc-DEF_123"', 'abc-DEF_123'],
    ['"first part" "second"', 'first partsecond'],
    ['"with \\"quote\\" and \\\\ backslash"', 'with "quote" and \\ backslash'],
    ['"decimal \\065\\066"', 'decimal AB'],
    ['unquoted-value', 'unquoted-value'],
    ['""', ''],
  ];
  for (const [data, text] of table) assert.equal(txtData(data), text, data);
});

function resolverAnswering(status: number, body: unknown, seen: URL[] = []): typeof fetch {
  return (async (input: URL | RequestInfo, init?: RequestInit) => {
    seen.push(new URL(String(input)));
    assert.equal(new Headers(init?.headers).get('accept'), 'application/dns-json');
    return new Response(typeof body === 'string' ? body : JSON.stringify(body), { status, headers: { 'content-type': 'application/dns-json' } });
  }) as typeof fetch;
}

test('lookupTxt asks the JSON API for TXT and keeps TXT answers only, including those behind a CNAME', async () => {
  const seen: URL[] = [];
  const answer = {
    Status: 0,
    Answer: [
      { name: '_acme-challenge.a.example.', type: 5, TTL: 60, data: 'a.dns-delegate.example.' },
      { name: 'a.dns-delegate.example.', type: 16, TTL: 60, data: '"value-one"' },
      { name: 'a.dns-delegate.example.', type: 16, TTL: 60, data: '"value-two"' },
    ],
  };
  const values = await lookupTxt('https://resolver.example/dns-query?ct=x', '_acme-challenge.a.example', { fetch: resolverAnswering(200, answer, seen) });
  assert.deepEqual(values, ['value-one', 'value-two']);
  assert.equal(seen[0]!.searchParams.get('name'), '_acme-challenge.a.example');
  assert.equal(seen[0]!.searchParams.get('type'), 'TXT');
  assert.equal(seen[0]!.searchParams.get('ct'), 'x');
});

test('lookupTxt: NXDOMAIN and NODATA are no records; failures name the name, the type and the resolver', async () => {
  const url = 'https://resolver.example/dns-query';
  assert.deepEqual(await lookupTxt(url, 'n.example', { fetch: resolverAnswering(200, { Status: 3 }) }), []);
  assert.deepEqual(await lookupTxt(url, 'n.example', { fetch: resolverAnswering(200, { Status: 0 }) }), []);
  await assert.rejects(lookupTxt(url, 'n.example', { fetch: resolverAnswering(200, { Status: 2 }) }),
    { message: 'DNS lookup of TXT at n.example from https://resolver.example failed: SERVFAIL' });
  await assert.rejects(lookupTxt(url, 'n.example', { fetch: resolverAnswering(200, { Status: 9 }) }),
    { message: 'DNS lookup of TXT at n.example from https://resolver.example failed: RCODE 9' });
  await assert.rejects(lookupTxt(url, 'n.example', { fetch: resolverAnswering(200, {}) }),
    { message: 'DNS lookup of TXT at n.example from https://resolver.example failed: no status' });
  await assert.rejects(lookupTxt(url, 'n.example', { fetch: resolverAnswering(503, 'busy') }),
    { message: 'DNS lookup of TXT at n.example from https://resolver.example failed: HTTP 503' });
  await assert.rejects(dohAnswers(url, 'n.example', 'TXT', { fetch: resolverAnswering(200, '<html>wire format only</html>') }),
    { message: 'DNS lookup of TXT at n.example from https://resolver.example failed: the answer is not JSON (is this a resolver with the JSON API?)' });
});
