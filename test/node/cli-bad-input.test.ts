// Every kind of bad input: exit 1, one line on stderr naming the problem, and the directory tree unchanged. The CA
// URL is a closed port, so a case that slipped past the checks would fail later with a network message instead.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../_pebble.ts';
import { RUNTIMES, runCli, snapshotTree, tempDir } from './_cli.ts';
import { HELP } from '../../cli/args.ts';
import { VERSION } from '../../cli/version.ts';

const work = tempDir('acme-cli-bad-');
const dir = work.dir;
const p = (name: string) => join(dir, name);
let directory: string;
let dnsPort: string;

before(async () => {
  directory = `https://127.0.0.1:${await freePort()}/dir`;
  dnsPort = `127.0.0.1:${await freePort()}`;
  for (const sub of ['www', 'certs', 'keydir']) mkdirSync(p(sub));
  execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', p('account.pem')]);
  execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', p('domain.pem')]);
  execFileSync('openssl', ['genpkey', '-algorithm', 'ED25519', '-out', p('ed25519.pem')]);
  execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-aes-128-cbc', '-pass', 'pass:x', '-out', p('encrypted.pem')]);
  writeFileSync(p('garbage.pem'), 'not a key\n');
  // dnssec-keygen's form of an HMAC key, which is not the key clause that --tsig-key reads.
  writeFileSync(p('dnssec.private'), 'Private-key-format: v1.3\nAlgorithm: 163 (HMAC_SHA256)\nKey: c2VjcmV0\nBits: AAA=\n');
  writeFileSync(p('md5.key'), 'key "acme" {\n\talgorithm hmac-md5;\n\tsecret "c2VjcmV0";\n};\n');
  mkdirSync(p('certs-bad'));
  writeFileSync(p('certs-bad/cert.pem'), '-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n');
  chmodSync(p('certs-bad/cert.pem'), 0o444);
});

after(() => work.remove());

const standard = () => ['--directory', directory, '-C', p('www'), '-c', p('certs'), '-f', p('account.pem'), '-k', p('domain.pem')];

const CASES: [string, () => string[], RegExp][] = [
  ['a bad name', () => [...standard(), 'a.example', 'bad..example'], /^Invalid name "bad\.\.example": it has an empty label$/],
  ['a duplicate name', () => [...standard(), 'a.example', 'A.example'], /^Duplicate name "A\.example": it is a\.example, as is "a\.example"$/],
  ['an unknown flag', () => ['-Z', ...standard(), 'a.example'], /^unknown option -Z; see acme-client --help$/],
  ['an unknown long option', () => ['--insecure', ...standard(), 'a.example'], /^unknown option --insecure; see acme-client --help$/],
  ['a bad --key-type', () => ['-nN', '--key-type', 'ed25519', ...standard(), 'a.example'], /^--key-type "ed25519" is not one of /],
  ['no domain', () => standard(), /^no domain given; usage: acme-client \[-beFmnNOrsv\]/],
  ['a missing challenge directory', () => ['-nN', ...standard(), '-C', p('no-such-www'), 'a.example'],
    /^Cannot use challenge directory .*no-such-www: it is not an existing directory \(-C\)$/],
  ['a missing certificate directory', () => ['-nN', ...standard(), '-c', p('no-such-certs'), 'a.example'],
    /^Cannot use certificate directory .*no-such-certs: it is not an existing directory \(-c\)$/],
  ['a missing account key without -n', () => ['-N', ...standard(), '-f', p('keydir/none.pem'), 'a.example'],
    /^Cannot read account key .*keydir\/none\.pem: it does not exist \(-n creates one\)$/],
  ['a missing domain key without -N', () => ['-n', ...standard(), '-k', p('keydir/none.pem'), 'a.example'],
    /^Cannot read domain key .*keydir\/none\.pem: it does not exist \(-N creates one\)$/],
  ['an unreadable key (a directory)', () => [...standard(), '-f', p('keydir'), 'a.example'], /^Cannot read account key .*keydir: EISDIR/],
  ['an unsupported key (Ed25519)', () => ['-n', ...standard(), '-k', p('ed25519.pem'), 'a.example'], /^Cannot use domain key .*ed25519\.pem: .*Ed25519/i],
  ['an encrypted key', () => [...standard(), '-f', p('encrypted.pem'), 'a.example'], /^Cannot use account key .*encrypted\.pem: .*encrypted; decrypt it first/],
  ['a file that is no key', () => [...standard(), '-f', p('garbage.pem'), 'a.example'], /^Cannot use account key .*garbage\.pem: Cannot import key: found neither a PEM block nor a JSON Web Key$/],
  ['a damaged cert.pem', () => [...standard(), '-c', p('certs-bad'), 'a.example'], /^Cannot read .*certs-bad\/cert\.pem: Cannot parse certificate: /],
  ['an option after the names', () => [...standard(), 'a.example', '-F'], /^option -F comes after the domain names: options go first$/],
  // --dns-update: the key file is read before any request; the server is a closed port, so a later failure would say so.
  ['a missing TSIG key file', () => [...dnsUpdate(p('none.key')), 'a.example'], /^Cannot read TSIG key .*none\.key: it does not exist \(tsig-keygen writes one\)$/],
  ['a TSIG key in another format', () => [...dnsUpdate(p('dnssec.private')), 'a.example'],
    /^Cannot use TSIG key .*dnssec\.private: no key "NAME" \{ algorithm hmac-sha256; secret "BASE64"; \}; block, as tsig-keygen writes it$/],
  ['a TSIG key of an unknown algorithm', () => [...dnsUpdate(p('md5.key')), 'a.example'],
    /^Cannot use TSIG key .*md5\.key: key "acme" uses hmac-md5; use hmac-sha256 or hmac-sha512 \(RFC 8945\)$/],
  ['--dns-update with -t', () => ['-t', 'dns-01', ...dnsUpdate(p('md5.key')), 'a.example'], /^-t and --dns-update both answer the challenges: give one$/],
  ['--dns-update with --standalone', () => ['--standalone', '8080', ...dnsUpdate(p('md5.key')), 'a.example'], /^--standalone and --dns-update both answer the challenges: give one$/],
  ['--dns-update with --standalone-tls', () => ['--standalone-tls', '8443', ...dnsUpdate(p('md5.key')), 'a.example'],
    /^--standalone-tls and --dns-update both answer the challenges: give one$/],
  ['--standalone-tls with -t', () => ['-t', 'http-01', '--standalone-tls', '8443', ...standard(), 'a.example'], /^-t and --standalone-tls both answer the challenges: give one$/],
  ['--standalone-tls with --standalone', () => ['--standalone', '8080', '--standalone-tls', '8443', ...standard(), 'a.example'],
    /^--standalone and --standalone-tls both answer the challenges: give one$/],
  ['--standalone-tls for a wildcard', () => ['--standalone-tls', '8443', ...standard(), 'a.example', '*.a.example'],
    /^--standalone-tls cannot answer for \*\.a\.example: CAs offer no tls-alpn-01 for a wildcard \(RFC 8737 §3\); use -t dns-01 or --dns-update$/],
  ['--tsig-key without --dns-update', () => [...standard(), '--tsig-key', p('md5.key'), 'a.example'], /^--tsig-key signs the updates of --dns-update: give both$/],
];

/** --dns-update to a closed port with this key file. */
function dnsUpdate(key: string): string[] {
  return [...standard(), '--dns-server', dnsPort, '--dns-update', dnsPort, '--tsig-key', key];
}

/** What each case printed in the runtime that ran first, so the others must print exactly the same. */
const firstOutput = new Map<string, string>();

for (const runtime of RUNTIMES) {
  for (const [name, argv, message] of CASES) {
    test(`[${runtime}] bad input: ${name} → exit 1, one line, nothing changed`, async () => {
      const before = snapshotTree(dir);
      const result = await runCli(argv(), { runtime });
      assert.equal(result.code, 1, result.stderr);
      assert.equal(result.stdout, '');
      assert.match(result.stderr, /^acme-client: [^\n]+\n$/);
      assert.match(result.stderr.slice('acme-client: '.length, -1), message);
      assert.deepEqual(snapshotTree(dir), before);
      if (!firstOutput.has(name)) firstOutput.set(name, result.stderr);
      assert.equal(result.stderr, firstOutput.get(name), 'the same line in every runtime');
    });
  }

  test(`[${runtime}] --help and --version print to stdout and exit 0`, async () => {
    assert.deepEqual(await runCli(['--help'], { runtime }), { code: 0, stdout: `${HELP}\n`, stderr: '' });
    assert.deepEqual(await runCli(['--version'], { runtime }), { code: 0, stdout: `acme-client ${VERSION}\n`, stderr: '' });
  });
}
