// dns-01 by RFC 2136 (--dns-update, --tsig-key) against a real BIND 9 that Pebble's VA asks: a name with its
// wildcard, a delegated _acme-challenge CNAME, the records gone afterwards with others' left in place, and each
// refusal (wrong secret, unknown key, a zone that takes no update) as one line that changes nothing. In Node and Deno.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startBind, tsigKeyClause, type Bind } from '../_bind.ts';
import { startPebble, type Pebble } from '../_pebble.ts';
import { RUNTIMES, opensslRead, opensslVerify, runCli, snapshotTree, tempDir, type Runtime } from './_cli.ts';

const SECRET = 'c2VjcmV0IGZvciB0aGUgdGVzdHMsIG5vdCBmb3IgdXNl';
const OTHER_SECRET = 'YW5vdGhlciBzZWNyZXQgdGhhdCB0aGUgc2VydmVyIGxhY2tz';
const POLICY = ['grant acme-key zonesub TXT;'];
let bind: Bind;
let pebble: Pebble;
const work = tempDir('acme-dns-update-');
const keyFile = (name: string, text: string) => {
  const file = join(work.dir, name);
  writeFileSync(file, text, { mode: 0o600 });
  return file;
};
let goodKey: string;

before(async () => {
  goodKey = keyFile('tsig.key', tsigKeyClause('acme-key', 'hmac-sha256', SECRET));
  bind = await startBind([
    {
      name: 'example.test',
      // A record the runs did not add, at the name that example.test and *.example.test share.
      records: ['_acme-challenge IN TXT "kept"', '_acme-challenge.delegated IN CNAME delegated.validation.test.'],
      updatePolicy: POLICY,
    },
    { name: 'validation.test', updatePolicy: POLICY },
    { name: 'locked.test' },
  ], tsigKeyClause('acme-key', 'hmac-sha256', SECRET));
  pebble = await startPebble({ dnsServer: bind.address });
});

after(async () => {
  await pebble?.stop();
  await bind?.stop();
  work.remove();
});

function setup(runtime: Runtime, name: string) {
  const dir = join(work.dir, `${runtime}-${name}`);
  const certs = join(dir, 'certs');
  mkdirSync(certs, { recursive: true });
  const argv = (key: string, names: string[], extra: string[] = []) => [
    '--directory', pebble.directoryUrl, '-c', certs, '-f', join(dir, 'account.pem'), '-k', join(dir, 'domain.pem'), '-nN', '--key-type', 'ec256',
    '--dns-server', bind.address, '--dns-update', bind.address, '--tsig-key', key, ...extra, ...names,
  ];
  return {
    dir,
    certs,
    run: (key: string, names: string[], extra: string[] = []) => runCli(argv(key, names, extra), { runtime, caFile: pebble.tlsCaFile }),
  };
}

/** A refused run: exit 1, one line on stderr that matches, no file written but the account key, and DNS as it was. */
async function assertRefused(runtime: Runtime, name: string, key: string, names: string[], expected: RegExp) {
  const s = setup(runtime, name);
  const before = snapshotTree(s.dir);
  const dnsBefore = bind.txt('_acme-challenge.example.test');
  const result = await s.run(key, names);
  assert.equal(result.code, 1, result.stderr);
  assert.match(result.stderr, expected);
  assert.equal(result.stderr.trimEnd().split('\n').length, 1, result.stderr);
  // The account comes before the challenges, so its new key is on disk (the CA knows it); nothing else is.
  const { 'account.pem': accountKey, ...after } = snapshotTree(s.dir);
  assert.match(accountKey!, /^600 /);
  assert.deepEqual(after, before);
  assert.deepEqual(bind.txt('_acme-challenge.example.test'), dnsBefore);
}

for (const runtime of RUNTIMES) {
  describe(`[${runtime}] dns-01 by RFC 2136 updates to BIND`, () => {
    test(`[${runtime}] example.test with *.example.test: issued, and only the records the run added are gone`, async () => {
      const s = setup(runtime, 'wildcard');
      const result = await s.run(goodKey, ['example.test', '*.example.test'], ['-v']);
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(opensslRead(join(s.certs, 'cert.pem')).names, ['*.example.test', 'example.test']);
      assert.match(opensslVerify(s.certs, await pebble.rootPem()), /cert\.pem: OK/);
      // Two values at one name, each added and deleted by its own value (RFC 2136 §2.5.4).
      assert.equal(result.stderr.match(/added TXT record _acme-challenge\.example\.test in zone example\.test/g)?.length, 2, result.stderr);
      assert.match(result.stderr, /every authoritative server of zone example\.test \(1\) answers with the new TXT record/);
      assert.deepEqual(bind.txt('_acme-challenge.example.test'), ['kept']);
    });

    test(`[${runtime}] a delegated _acme-challenge CNAME: the record goes into the other zone, and is gone afterwards`, async () => {
      const s = setup(runtime, 'delegated');
      const result = await s.run(goodKey, ['delegated.example.test'], ['-v']);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stderr, /_acme-challenge\.delegated\.example\.test is a CNAME for delegated\.validation\.test/);
      assert.match(result.stderr, /added TXT record delegated\.validation\.test in zone validation\.test/);
      assert.deepEqual(opensslRead(join(s.certs, 'cert.pem')).names, ['delegated.example.test']);
      assert.deepEqual(bind.txt('delegated.validation.test'), []);
    });

    test(`[${runtime}] a wrong secret: NOTAUTH with TSIG BADSIG, one line, nothing changed`, async () => {
      const key = keyFile(`${runtime}-wrong-secret.key`, tsigKeyClause('acme-key', 'hmac-sha256', OTHER_SECRET));
      await assertRefused(runtime, 'badsig', key, ['example.test'],
        new RegExp(`^acme-client: Cannot add TXT record _acme-challenge\\.example\\.test in zone example\\.test at ${bind.address.replace(/\./g, '\\.')}: `
          + 'NOTAUTH \\(TSIG BADSIG for key "acme-key"'));
    });

    test(`[${runtime}] an unknown key name: NOTAUTH with TSIG BADKEY, one line, nothing changed`, async () => {
      const key = keyFile(`${runtime}-unknown.key`, tsigKeyClause('nobody', 'hmac-sha512', SECRET));
      await assertRefused(runtime, 'badkey', key, ['example.test'], /in zone example\.test at 127\.0\.0\.1:\d+: NOTAUTH \(TSIG BADKEY for key "nobody"/);
    });

    test(`[${runtime}] a zone that takes no update: REFUSED, one line, nothing changed`, async () => {
      await assertRefused(runtime, 'refused', goodKey, ['locked.test'],
        /Cannot add TXT record _acme-challenge\.locked\.test in zone locked\.test at 127\.0\.0\.1:\d+: REFUSED/);
    });
  });
}
