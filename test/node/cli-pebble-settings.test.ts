// The CLI against Pebble's awkward settings: 30 % of nonces rejected with alternate chains on offer, a CA that
// requires external account binding, and a CA whose TLS certificate the process does not trust; in Node and in Deno.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startPebble, type Pebble } from '../_pebble.ts';
import { RUNTIMES, opensslRead, opensslVerify, runCli, snapshotTree, tempDir, type Runtime } from './_cli.ts';

const NAMES = ['a.example', 'b.example', 'c.example'];
const work = tempDir('acme-cli-settings-');

function setup(pebble: Pebble, runtime: Runtime, name: string) {
  const dir = join(work.dir, `${runtime}-${name}`);
  const certs = join(dir, 'certs');
  mkdirSync(certs, { recursive: true });
  const args = ['--directory', pebble.directoryUrl, '-c', certs, '-f', join(dir, 'account.pem'), '-k', join(dir, 'domain.pem'), '-nN', '--key-type', 'ec256',
    '--standalone', `127.0.0.1:${pebble.httpPort}`];
  return { dir, certs, args };
}

after(() => work.remove());

describe('PEBBLE_WFE_NONCEREJECT=30 and PEBBLE_ALTERNATE_ROOTS=1', () => {
  let pebble: Pebble;
  before(async () => {
    pebble = await startPebble({ env: { PEBBLE_WFE_NONCEREJECT: '30', PEBBLE_ALTERNATE_ROOTS: '1' } });
  });
  after(() => pebble.stop());

  for (const runtime of RUNTIMES) {
    test(`[${runtime}] issues despite 30 % of nonces rejected, with the default chain`, async () => {
      const s = setup(pebble, runtime, 'default-chain');
      const result = await runCli(['-vv', ...s.args, ...NAMES], { runtime, caFile: pebble.tlsCaFile });
      assert.equal(result.code, 0, result.stderr);
      assert.match(opensslVerify(s.certs, await pebble.rootPem(0)), /OK/);
      assert.deepEqual(opensslRead(join(s.certs, 'cert.pem')).names, NAMES);
      // -vv traces every exchange but never a private key.
      assert.match(result.stderr, /→ POST https:\/\/127\.0\.0\.1:\d+\/order-plz/);
      assert.doesNotMatch(result.stderr, /"d":"|PRIVATE KEY/);
    });

    test(`[${runtime}] --preferred-chain picks the alternate chain whose root has that CN`, async () => {
      const s = setup(pebble, runtime, 'alternate-chain');
      const alternateRoot = await pebble.rootPem(1);
      const rootFile = join(s.dir, 'alternate-root.pem');
      writeFileSync(rootFile, alternateRoot);
      const rootCn = /CN\s*=\s*(.+)/.exec(execFileSync('openssl', ['x509', '-in', rootFile, '-noout', '-subject'], { encoding: 'utf8' }))![1]!.trim();
      const result = await runCli([...s.args, '--preferred-chain', rootCn, ...NAMES], { runtime, caFile: pebble.tlsCaFile });
      assert.equal(result.code, 0, result.stderr);
      assert.match(opensslVerify(s.certs, alternateRoot), /OK/);
      const chain = readFileSync(join(s.certs, 'chain.pem'), 'utf8');
      const top = join(s.dir, 'top.pem');
      writeFileSync(top, chain.slice(chain.lastIndexOf('-----BEGIN CERTIFICATE-----')));
      assert.equal(opensslRead(top).issuerCn, rootCn);
      const defaultRoot = await pebble.rootPem(0);
      assert.throws(() => opensslVerify(s.certs, defaultRoot));
    });

    test(`[${runtime}] TLS to the CA is verified: without Pebble's certificate trusted, the run fails and writes nothing`, async () => {
      const s = setup(pebble, runtime, 'untrusted');
      const before = snapshotTree(s.dir);
      const result = await runCli([...s.args, ...NAMES], { runtime });
      assert.equal(result.code, 1);
      // The reason is the TLS library's own wording: OpenSSL's in Node, rustls's in Deno.
      const reason = { node: 'self-signed certificate', deno: 'invalid peer certificate: UnknownIssuer' }[runtime];
      const host = new URL(pebble.directoryUrl).host;
      assert.equal(result.stderr, `acme-client: Cannot fetch directory ${pebble.directoryUrl}: the TLS certificate of ${host} is not trusted (${reason})\n`);
      assert.deepEqual(snapshotTree(s.dir), before);
    });
  }
});

describe('a CA that requires external account binding', () => {
  let pebble: Pebble;
  const hmacKey = randomBytes(32).toString('base64url');
  before(async () => {
    pebble = await startPebble({ eabKeys: { 'kid-1': hmacKey } });
  });
  after(() => pebble.stop());

  for (const runtime of RUNTIMES) {
    test(`[${runtime}] without --eab-kid: exit 1 with the CA's externalAccountRequired`, async () => {
      const s = setup(pebble, runtime, 'no-eab');
      const result = await runCli([...s.args, ...NAMES], { runtime, caFile: pebble.tlsCaFile });
      assert.equal(result.code, 1);
      assert.match(result.stderr, /^acme-client: [^\n]*urn:ietf:params:acme:error:externalAccountRequired[^\n]*\n$/);
    });

    test(`[${runtime}] with a wrong MAC key: exit 1`, async () => {
      const s = setup(pebble, runtime, 'bad-eab');
      const result = await runCli([...s.args, '--eab-kid', 'kid-1', '--eab-hmac-key', randomBytes(32).toString('base64url'), ...NAMES], { runtime, caFile: pebble.tlsCaFile });
      assert.equal(result.code, 1);
      assert.match(result.stderr, /^acme-client: Cannot create account: urn:ietf:params:acme:error:\w+/);
    });

    test(`[${runtime}] with --eab-kid and --eab-hmac-key: issued`, async () => {
      const s = setup(pebble, runtime, 'eab');
      const result = await runCli([...s.args, '--eab-kid', 'kid-1', '--eab-hmac-key', hmacKey, ...NAMES], { runtime, caFile: pebble.tlsCaFile });
      assert.equal(result.code, 0, result.stderr);
      assert.match(opensslVerify(s.certs, await pebble.rootPem()), /OK/);
    });
  }
});
