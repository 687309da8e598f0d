// The RFC 2136 responder against zones with two authoritative servers, real BIND 9 processes on 127.0.0.1 and ::1
// on one port: it resolves only once both serve the new record (the secondary by NOTIFY and transfer), and a server
// that never gets it fails the wait at its bound, naming that server, with the record deleted all the same. And an
// update signed an hour ago, which BIND answers with TSIG BADTIME.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startBind, tsigKeyClause, type Bind } from '../_bind.ts';
import { freePort } from '../_pebble.ts';
import { dnsUpdateResponder, nodeDnsExchange } from '../../adapters/node-dns-update.ts';
import { buildUpdate, readAnswer, signMessage, verifyAnswer } from '../../core/dns-message.ts';
import type { ChallengeTask } from '../../core/resources.ts';
import { parseTsigKey } from '../../core/tsig-key.ts';

const KEY = tsigKeyClause('acme-key', 'hmac-sha512', 'c2VjcmV0IGZvciB0aGUgdGVzdHMsIG5vdCBmb3IgdXNl');
const SECOND_SERVER = ['@ IN NS ns2', 'ns2 IN AAAA ::1'];
let primary: Bind;
let secondary: Bind;

before(async () => {
  // Both servers listen on one port, as a zone's servers do on 53.
  const port = await freePort();
  primary = await startBind([
    // notify.test: ::1 is a secondary that the primary notifies of each change.
    { name: 'notify.test', records: SECOND_SERVER, updatePolicy: ['grant acme-key zonesub TXT;'], notify: `::1 port ${port}` },
    // stale.test: ::1 serves a copy of its own that no update reaches.
    { name: 'stale.test', records: SECOND_SERVER, updatePolicy: ['grant acme-key zonesub TXT;'] },
    // unreachable.test: its one name server has a second address where nothing listens (as IPv6 is for an IPv4-only host).
    { name: 'unreachable.test', records: ['ns IN A 127.0.0.3'], updatePolicy: ['grant acme-key zonesub TXT;'] },
  ], KEY, { port });
  secondary = await startBind([
    { name: 'notify.test', primary: `127.0.0.1 port ${port}` },
    { name: 'stale.test', records: SECOND_SERVER },
  ], KEY, { host: '::1', port, ready: /transfer of 'notify\.test\/IN' from 127\.0\.0\.1#\d+: Transfer completed/ });
});

after(async () => {
  await secondary?.stop();
  await primary?.stop();
});

const task = (name: string, value: string) => ({ dnsName: `_acme-challenge.${name}`, dnsValue: value, challengeUrl: `https://ca.test/chall/${value}` }) as ChallengeTask;

test('the responder resolves once both authoritative servers serve the record, the secondary through NOTIFY', async () => {
  const lines: string[] = [];
  const responder = dnsUpdateResponder({ server: primary.address, resolver: primary.address, key: parseTsigKey(KEY), onProgress: (line) => lines.push(line) });
  const challenge = task('notify.test', 'both-servers');
  await responder.present(challenge);
  assert.deepEqual(secondary.txt('_acme-challenge.notify.test'), ['both-servers']);
  assert.match(lines.join('\n'), /every authoritative server of zone notify\.test \(2\) answers with the new TXT record/);
  await responder.cleanup(challenge);
  assert.deepEqual(primary.txt('_acme-challenge.notify.test'), []);
});

test('an address that cannot be reached does not hold up the wait while another address of that server answers', async () => {
  const lines: string[] = [];
  const responder = dnsUpdateResponder({ server: primary.address, resolver: primary.address, key: parseTsigKey(KEY), onProgress: (line) => lines.push(line) });
  const challenge = task('unreachable.test', 'one-address');
  await responder.present(challenge);
  assert.match(lines.join('\n'), /every authoritative server of zone unreachable\.test \(1\) answers with the new TXT record/);
  await responder.cleanup(challenge);
  assert.deepEqual(primary.txt('_acme-challenge.unreachable.test'), []);
});

test('a server that never serves the record fails the wait at its bound, naming it; the record is deleted all the same', async () => {
  const responder = dnsUpdateResponder({ server: primary.address, resolver: primary.address, key: parseTsigKey(KEY), propagationTimeout: 1500 });
  const challenge = task('stale.test', 'one-server');
  await assert.rejects(responder.present(challenge),
    new RegExp(`^Error: TXT record _acme-challenge\\.stale\\.test in zone stale\\.test is not served within 1\\.5 s by ns2\\.stale\\.test \\(::1\\): answers NXDOMAIN without it$`));
  assert.deepEqual(primary.txt('_acme-challenge.stale.test'), ['one-server']);
  await responder.cleanup(challenge);
  assert.deepEqual(primary.txt('_acme-challenge.stale.test'), []);
});

test('an update signed outside the fudge: BIND answers NOTAUTH, and its TSIG record says BADTIME', async () => {
  const key = parseTsigKey(KEY);
  const request = await signMessage(buildUpdate('stale.test', { action: 'add', name: '_acme-challenge.stale.test', value: 'late', ttl: 60 }), key, Date.now() - 3600_000);
  const answer = await nodeDnsExchange({ host: '127.0.0.1', port: primary.port }, request.message);
  assert.equal(readAnswer(answer).rcode, 'NOTAUTH');
  assert.equal(await verifyAnswer(answer, key, request, Date.now()), 'BADTIME');
  assert.deepEqual(primary.txt('_acme-challenge.stale.test'), []);
});
