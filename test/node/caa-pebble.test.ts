// The CAA pre-check with Node's resolver against challtestsrv's DNS, records set through its /add-caa and
// /set-cname: forbidden, allowed, issuewild, and a CNAME in the path.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startPebble, type Pebble } from '../_pebble.ts';
import { nodeCaaResolver } from '../../adapters/node-dns.ts';
import { CaaError, checkCaa, type CaaResolver } from '../../core/caa.ts';
import { normalizeIdentifiers } from '../../core/names.ts';

const PEBBLE_IDENTITY = 'pebble.letsencrypt.org';
let pebble: Pebble;
let resolver: CaaResolver;

before(async () => {
  pebble = await startPebble();
  resolver = nodeCaaResolver(`127.0.0.1:${pebble.dnsPort}`);
});
after(() => pebble.stop());

const check = (...names: string[]) => checkCaa({ identifiers: normalizeIdentifiers(names), caaIdentities: [PEBBLE_IDENTITY], resolver });

test('node resolver: records as challtestsrv serves them, none for a name without', async () => {
  await pebble.addCaa('records.test', [{ tag: 'issue', value: PEBBLE_IDENTITY }, { tag: 'iodef', value: 'mailto:ca@records.test' }]);
  assert.deepEqual(await resolver.caa('records.test'), [
    { flags: 0, tag: 'issue', value: PEBBLE_IDENTITY },
    { flags: 0, tag: 'iodef', value: 'mailto:ca@records.test' },
  ]);
  assert.deepEqual(await resolver.caa('nothing.records.test'), []);
});

test('node resolver: a server that is not an address is refused by name', () => {
  assert.throws(() => nodeCaaResolver('dns.example:53'), {
    name: 'TypeError',
    message: 'Invalid DNS server "dns.example:53": expected an IP address with an optional port, e.g. 127.0.0.1:53 or [::1]:53',
  });
});

test('caa via challtestsrv: a record for another CA on the parent forbids, naming record and name', async () => {
  await pebble.addCaa('forbidden.test', [{ tag: 'issue', value: 'letsencrypt.org' }]);
  await assert.rejects(check('www.forbidden.test'), {
    name: 'CaaError',
    message: 'CAA record 0 issue "letsencrypt.org" on forbidden.test forbids issuance for www.forbidden.test by this CA (caaIdentities: pebble.letsencrypt.org)',
  });
});

test('caa via challtestsrv: a record for this CA allows, with parameters after ";"', async () => {
  await pebble.addCaa('allowed.test', [{ tag: 'issue', value: 'letsencrypt.org' }, { tag: 'issue', value: `${PEBBLE_IDENTITY}; validationmethods=http-01` }]);
  assert.deepEqual(await check('allowed.test', 'www.allowed.test'), { checked: true, notes: [] });
});

test('caa via challtestsrv: issuewild forbids the wildcard only', async () => {
  await pebble.addCaa('wild.test', [{ tag: 'issue', value: PEBBLE_IDENTITY }, { tag: 'issuewild', value: ';' }]);
  assert.deepEqual(await check('wild.test', 'www.wild.test'), { checked: true, notes: [] });
  const error = await check('wild.test', '*.wild.test').then(() => assert.fail('expected a refusal'), (e: unknown) => e as CaaError);
  assert.ok(error instanceof CaaError);
  assert.deepEqual(error.refusals.map((refusal) => refusal.identifier.value), ['*.wild.test']);
  assert.equal(error.message, 'CAA record 0 issuewild ";" on wild.test forbids issuance for *.wild.test by this CA (caaIdentities: pebble.letsencrypt.org)');
});

test('caa via challtestsrv: a CNAME in the path leads to the target\'s records, and the message names the target', async () => {
  await pebble.setCname('www.alias.test', 'cdn.provider.test');
  await pebble.addCaa('cdn.provider.test', [{ tag: 'issue', value: 'other-ca.example' }]);
  await pebble.addCaa('alias.test', [{ tag: 'issue', value: PEBBLE_IDENTITY }]);
  await assert.rejects(check('www.alias.test'), {
    name: 'CaaError',
    message: 'CAA record 0 issue "other-ca.example" on cdn.provider.test (CNAME target of www.alias.test) forbids issuance for www.alias.test '
      + 'by this CA (caaIdentities: pebble.letsencrypt.org)',
  });
  // The alias itself is fine once its target allows this CA.
  await pebble.addCaa('cdn2.provider.test', [{ tag: 'issue', value: PEBBLE_IDENTITY }]);
  await pebble.setCname('api.alias.test', 'cdn2.provider.test');
  assert.deepEqual(await check('api.alias.test'), { checked: true, notes: [] });
});
