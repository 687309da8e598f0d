// CAA pre-check (RFC 8659): the relevant record set, issue/issuewild matching, the critical flag, RFC 8657
// parameters, a CNAME in the path, and the DNS-over-HTTPS resolver's record parsing.
import { assert, assertEquals, assertRejects, assertThrows, test } from '../_harness.ts';
import { CaaError, checkCaa, parseIssueValue, type CaaCheckOptions, type CaaRecord, type CaaResolver } from '../../core/caa.ts';
import type { Identifier } from '../../core/names.ts';
import { dohCaaResolver, parseCaaData } from '../../adapters/browser-caa.ts';

const PEBBLE = 'pebble.letsencrypt.org';

type Zone = Record<string, CaaRecord[] | { cname: string } | 'servfail'>;

/** Answers from a zone as a recursive resolver would: CNAMEs are followed, and records keep the name they sit on. */
function zoneResolver(zone: Zone, asked: string[] = []): CaaResolver {
  const lookup = async (name: string, hops: number): Promise<CaaRecord[]> => {
    const entry = zone[name];
    if (entry === 'servfail') throw new Error(`SERVFAIL for ${name}`);
    if (entry && 'cname' in entry) {
      const records = hops < 8 ? await lookup(entry.cname, hops + 1) : [];
      return records.map((record) => ({ owner: entry.cname, ...record }));
    }
    return entry ?? [];
  };
  return {
    caa(name) {
      asked.push(name);
      return lookup(name, 0);
    },
  };
}

const issue = (value: string, flags = 0): CaaRecord => ({ flags, tag: 'issue', value });
const issuewild = (value: string, flags = 0): CaaRecord => ({ flags, tag: 'issuewild', value });
const dns = (value: string): Identifier => ({ type: 'dns', value });

function check(zone: Zone, names: string[], extra: Partial<CaaCheckOptions> = {}) {
  return checkCaa({ identifiers: names.map(dns), caaIdentities: [PEBBLE], resolver: zoneResolver(zone), ...extra });
}

async function refusal(zone: Zone, names: string[], extra: Partial<CaaCheckOptions> = {}): Promise<string> {
  return (await assertRejects(() => check(zone, names, extra), CaaError)).message;
}

test('caa: no records anywhere allows issuance', async () => {
  assertEquals(await check({}, ['www.example.com', '*.example.com']), { checked: true, notes: [] });
});

test('caa: an issue record for another CA forbids, naming the record and the name it sits on', async () => {
  assertEquals(await refusal({ 'example.com': [issue('letsencrypt.org')] }, ['www.example.com']),
    'CAA record 0 issue "letsencrypt.org" on example.com forbids issuance for www.example.com by this CA (caaIdentities: pebble.letsencrypt.org)');
});

test('caa: the walk climbs from the name toward the root, not into it, and stops at the first record set', async () => {
  const asked: string[] = [];
  await checkCaa({ identifiers: [dns('a.b.example.com')], caaIdentities: [PEBBLE], resolver: zoneResolver({}, asked) });
  assertEquals(asked, ['a.b.example.com', 'b.example.com', 'example.com', 'com']);
  // The closest set wins: a permissive record on the name overrides a restrictive one on its parent, and back.
  assertEquals((await check({ 'b.example.com': [issue(PEBBLE)], 'example.com': [issue('other.ca')] }, ['a.b.example.com'])).checked, true);
  assertEquals(await refusal({ 'b.example.com': [issue('other.ca')], 'example.com': [issue(PEBBLE)] }, ['a.b.example.com']),
    'CAA record 0 issue "other.ca" on b.example.com forbids issuance for a.b.example.com by this CA (caaIdentities: pebble.letsencrypt.org)');
});

test('caa: one of several issue records is enough, matched without regard to case', async () => {
  assertEquals((await check({ 'example.com': [issue('letsencrypt.org'), issue('Pebble.LetsEncrypt.org')] }, ['example.com'])).checked, true);
  assertEquals((await check({ 'example.com': [{ flags: 0, tag: 'ISSUE', value: PEBBLE }] }, ['example.com'], { caaIdentities: ['PEBBLE.letsencrypt.org.'] })).checked, true);
  assertEquals(await refusal({ 'example.com': [issue('a.example'), issue('b.example')] }, ['example.com']),
    'CAA records 0 issue "a.example", 0 issue "b.example" on example.com forbid issuance for example.com by this CA (caaIdentities: pebble.letsencrypt.org)');
});

test('caa: an empty issuer (";") forbids every CA', async () => {
  assertEquals(await refusal({ 'example.com': [issue(';')] }, ['example.com']),
    'CAA record 0 issue ";" on example.com forbids issuance for example.com by this CA (caaIdentities: pebble.letsencrypt.org)');
});

test('caa: records without issue (iodef, issuewild alone, unknown tags) do not restrict a plain name', async () => {
  const zone = { 'example.com': [{ flags: 0, tag: 'iodef', value: 'mailto:ca@example.com' }, issuewild(';'), { flags: 0, tag: 'future', value: 'x' }] };
  assertEquals((await check(zone, ['www.example.com'])).checked, true);
});

test('caa: issuewild replaces issue for a wildcard, and issue applies when there is no issuewild', async () => {
  const zone = { 'example.com': [issue(PEBBLE), issuewild(';')] };
  assertEquals((await check(zone, ['example.com'])).checked, true);
  assertEquals(await refusal(zone, ['example.com', '*.example.com']),
    'CAA record 0 issuewild ";" on example.com forbids issuance for *.example.com by this CA (caaIdentities: pebble.letsencrypt.org)');
  assertEquals((await check({ 'example.com': [issue('other.ca'), issuewild(PEBBLE)] }, ['*.example.com'])).checked, true);
  assertEquals((await check({ 'example.com': [issue(PEBBLE)] }, ['*.example.com'])).checked, true);
  assertEquals(await refusal({ 'example.com': [issue('other.ca')] }, ['*.example.com']),
    'CAA record 0 issue "other.ca" on example.com forbids issuance for *.example.com by this CA (caaIdentities: pebble.letsencrypt.org)');
});

test('caa: a wildcard\'s walk starts at the name it covers', async () => {
  const asked: string[] = [];
  await checkCaa({ identifiers: [dns('*.example.com')], caaIdentities: [PEBBLE], resolver: zoneResolver({}, asked) });
  assertEquals(asked, ['example.com', 'com']);
});

test('caa: an unknown tag flagged critical forbids every CA; a known one does not', async () => {
  assertEquals(await refusal({ 'example.com': [issue(PEBBLE), { flags: 128, tag: 'tbs', value: 'Unknown' }] }, ['example.com']),
    'CAA record 128 tbs "Unknown" on example.com forbids issuance for example.com by any CA: the tag is unknown and flagged critical (RFC 8659 §4.1)');
  assertEquals((await check({ 'example.com': [issue(PEBBLE, 128), { flags: 128, tag: 'iodef', value: 'mailto:x@example.com' }] }, ['example.com'])).checked, true);
  assertEquals((await check({ 'example.com': [issue(PEBBLE), { flags: 1, tag: 'tbs', value: 'Unknown' }] }, ['example.com'])).checked, true);
});

test('caa: parameters after ";" are read, and RFC 8657 accounturi and validationmethods checked when known', async () => {
  const zone = { 'example.com': [issue(`${PEBBLE}; accounturi=https://ca.example/acct/1; validationmethods=dns-01,tls-alpn-01`)] };
  assertEquals((await check(zone, ['example.com'])).checked, true);
  assertEquals((await check(zone, ['example.com'], { accountUrl: 'https://ca.example/acct/1', challengeTypes: ['http-01', 'dns-01'] })).checked, true);
  assertEquals(await refusal(zone, ['example.com'], { accountUrl: 'https://ca.example/acct/2' }),
    'CAA record 0 issue "pebble.letsencrypt.org; accounturi=https://ca.example/acct/1; validationmethods=dns-01,tls-alpn-01" on example.com '
    + 'forbids issuance for example.com by this CA (caaIdentities: pebble.letsencrypt.org; accounturi https://ca.example/acct/1 is not this account (https://ca.example/acct/2))');
  assert((await refusal(zone, ['example.com'], { challengeTypes: ['http-01'] })).endsWith('; validationmethods dns-01,tls-alpn-01 allows none of http-01)'));
});

test('caa: a malformed issue value admits no CA', async () => {
  assertEquals(await refusal({ 'example.com': [issue(`${PEBBLE}; novalue`)] }, ['example.com']),
    'CAA record 0 issue "pebble.letsencrypt.org; novalue" on example.com forbids issuance for example.com by this CA '
    + '(caaIdentities: pebble.letsencrypt.org; a record is malformed, which admits no CA (RFC 8659 §4.2))');
});

const ISSUE_VALUES: [string, ReturnType<typeof parseIssueValue>][] = [
  ['letsencrypt.org', { issuer: 'letsencrypt.org', parameters: new Map() }],
  ['  LetsEncrypt.org  ', { issuer: 'letsencrypt.org', parameters: new Map() }],
  [';', { issuer: '', parameters: new Map() }],
  ['', { issuer: '', parameters: new Map() }],
  ['ca.example; AccountURI = https://ca.example/a/1 ;validationmethods=http-01', {
    issuer: 'ca.example', parameters: new Map([['accounturi', 'https://ca.example/a/1'], ['validationmethods', 'http-01']]),
  }],
  ['ca.example;', { issuer: 'ca.example', parameters: new Map() }],
  ['ca..example', undefined],
  ['-ca.example', undefined],
  ['ca.example; key=a b', undefined],
  ['ca.example; =value', undefined],
];
for (const [value, expected] of ISSUE_VALUES) {
  test(`caa: issue value ${JSON.stringify(value)}`, () => assertEquals(parseIssueValue(value), expected));
}

test('caa: a CNAME in the path is followed, and the message names the target', async () => {
  const zone: Zone = { 'www.example.com': { cname: 'cdn.example.net' }, 'cdn.example.net': [issue('other.ca')], 'example.com': [issue(PEBBLE)] };
  assertEquals(await refusal(zone, ['www.example.com']),
    'CAA record 0 issue "other.ca" on cdn.example.net (CNAME target of www.example.com) forbids issuance for www.example.com by this CA (caaIdentities: pebble.letsencrypt.org)');
  // RFC 8659 §3: when the target has no records, the walk goes on from the alias's parent, not the target's.
  const empty: Zone = { 'www.example.com': { cname: 'cdn.example.net' }, 'example.net': [issue(PEBBLE)], 'example.com': [issue('other.ca')] };
  assert((await refusal(empty, ['www.example.com'])).includes('on example.com forbids'), 'the alias\'s parent decides');
});

test('caa: IP addresses have no CAA and are not looked up', async () => {
  const asked: string[] = [];
  const result = await checkCaa({ identifiers: [{ type: 'ip', value: '192.0.2.10' }, { type: 'ip', value: '2001:db8::1' }], caaIdentities: [PEBBLE], resolver: zoneResolver({}, asked) });
  assertEquals(result, { checked: true, notes: [] });
  assertEquals(asked, []);
});

test('caa: a CA without caaIdentities skips the check with a note', async () => {
  const asked: string[] = [];
  const note = 'The CA lists no caaIdentities in its directory, so CAA records were not checked';
  assertEquals(await checkCaa({ identifiers: [dns('example.com')], resolver: zoneResolver({}, asked) }), { checked: false, notes: [note] });
  assertEquals(await checkCaa({ identifiers: [dns('example.com')], caaIdentities: [], resolver: zoneResolver({}, asked) }), { checked: false, notes: [note] });
  assertEquals(asked, []);
});

test('caa: a failed lookup is a note, not a refusal', async () => {
  assertEquals(await check({ 'example.com': 'servfail' }, ['www.example.com']), {
    checked: true, notes: ['CAA lookup for www.example.com failed (SERVFAIL for example.com); the CA will check it itself'],
  });
});

test('caa: every refused name is reported, and each name is looked up once', async () => {
  const asked: string[] = [];
  const error = await assertRejects(() => checkCaa({
    identifiers: ['a.example.com', 'b.example.com', 'example.com', 'ok.example.org'].map(dns),
    caaIdentities: [PEBBLE],
    resolver: zoneResolver({ 'example.com': [issue('other.ca')] }, asked),
  }), CaaError) as CaaError;
  const refused = error.refusals.map((refusal) => `${refusal.identifier.value} by ${refusal.name}`).sort();
  assertEquals(refused, ['a.example.com by example.com', 'b.example.com by example.com', 'example.com by example.com']);
  assertEquals(error.message.split('; ').length, 3);
  assertEquals(asked.filter((name) => name === 'example.com').length, 1);
  assertEquals(asked.filter((name) => name === 'com').length, 0);
});

const CAA_DATA: [string, CaaRecord][] = [
  ['0 issue "letsencrypt.org"', { flags: 0, tag: 'issue', value: 'letsencrypt.org' }],
  ['128 issuewild ";"', { flags: 128, tag: 'issuewild', value: ';' }],
  ['0 iodef "mailto:a\\"b@example.com"', { flags: 0, tag: 'iodef', value: 'mailto:a"b@example.com' }],
  ['0 issue "ca.example\\059 accounturi=x"', { flags: 0, tag: 'issue', value: 'ca.example; accounturi=x' }],
  ['0 issue letsencrypt.org', { flags: 0, tag: 'issue', value: 'letsencrypt.org' }],
  ['\\# 22 00 05 69 73 73 75 65 6c 65 74 73 65 6e 63 72 79 70 74 2e 6f 72 67', { flags: 0, tag: 'issue', value: 'letsencrypt.org' }],
  ['\\# 12 8009697373756577696c643b', { flags: 128, tag: 'issuewild', value: ';' }],
];
for (const [data, record] of CAA_DATA) {
  test(`caa: DoH record data ${JSON.stringify(data)}`, () => assertEquals(parseCaaData(data), record));
}

test('caa: DoH record data that does not parse is refused with its text', () => {
  assertThrows(() => parseCaaData('issue letsencrypt.org'), SyntaxError,
    'Cannot parse CAA record data "issue letsencrypt.org": expected "FLAGS TAG VALUE" or "\\# LENGTH HEX"');
  assertThrows(() => parseCaaData('300 issue "x"'), SyntaxError, 'expected "FLAGS TAG VALUE"');
  assertThrows(() => parseCaaData('\\# 9 00056973737565'), SyntaxError, 'the length or the tag length does not fit the bytes');
  assertThrows(() => parseCaaData('\\# 4 00096973'), SyntaxError, 'the length or the tag length does not fit the bytes');
  assertThrows(() => parseCaaData('\\# 1 0'), SyntaxError, 'Cannot decode hex');
});

function dohFetch(answers: Record<string, unknown>, asked: string[]): typeof fetch {
  return (async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(String(input));
    asked.push(`${url.searchParams.get('type')} ${url.searchParams.get('name')} ${new Headers(init?.headers).get('accept')}`);
    const body = answers[url.searchParams.get('name')!];
    return new Response(JSON.stringify(body ?? { Status: 3 }), { headers: { 'content-type': 'application/dns-json' } });
  }) as typeof fetch;
}

test('caa: the DoH resolver reads CAA answers, keeps the CNAME target, and treats NXDOMAIN as none', async () => {
  const asked: string[] = [];
  const resolver = dohCaaResolver('https://doh.example/dns-query', {
    fetch: dohFetch({
      'www.example.com': {
        Status: 0,
        Answer: [
          { name: 'www.example.com.', type: 5, TTL: 60, data: 'cdn.example.net.' },
          { name: 'cdn.example.net.', type: 257, TTL: 60, data: '0 issue "other.ca"' },
        ],
      },
      'example.com': { Status: 0, Answer: [{ name: 'example.com.', type: 257, TTL: 60, data: '\\# 22 00 05 69 73 73 75 65 6c 65 74 73 65 6e 63 72 79 70 74 2e 6f 72 67' }] },
    }, asked),
  });
  assertEquals(await resolver.caa('www.example.com'), [{ flags: 0, tag: 'issue', value: 'other.ca', owner: 'cdn.example.net' }]);
  assertEquals(await resolver.caa('example.com'), [{ flags: 0, tag: 'issue', value: 'letsencrypt.org' }]);
  assertEquals(await resolver.caa('nowhere.example'), []);
  assertEquals(asked, ['CAA www.example.com application/dns-json', 'CAA example.com application/dns-json', 'CAA nowhere.example application/dns-json']);
});

test('caa: the DoH resolver rejects on SERVFAIL and on an HTTP error', async () => {
  const servfail = dohCaaResolver('https://doh.example/dns-query', { fetch: dohFetch({ 'example.com': { Status: 2 } }, []) });
  await assertRejects(() => servfail.caa('example.com'), Error, 'DNS lookup of CAA at example.com from https://doh.example failed: SERVFAIL');
  const down = dohCaaResolver('https://doh.example/dns-query', { fetch: (async () => new Response('', { status: 502 })) as typeof fetch });
  await assertRejects(() => down.caa('example.com'), Error, 'DNS lookup of CAA at example.com from https://doh.example failed: HTTP 502');
});
