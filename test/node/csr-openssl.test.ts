// Independent checks of our CSRs: each one verifies with `openssl req -verify` and with pkijs, and both read
// back the names and the TLS Feature we put in. In reverse, CSRs that openssl makes are read by parseCsr.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { createCsr, csrToPem, parseCsr } from '../../core/csr.ts';
import { pemDecode } from '../../core/encoding.ts';
import { generateKey } from '../../core/keys.ts';
import { ipFromBytes, normalizeIdentifiers } from '../../core/names.ts';
import type { Identifier } from '../../core/names.ts';

pkijs.setEngine('webcrypto', new pkijs.CryptoEngine({ name: 'webcrypto', crypto: globalThis.crypto }));

const dir = mkdtempSync(join(tmpdir(), 'csr-openssl-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function openssl(args: string[]): string {
  const result = spawnSync('openssl', args, { encoding: 'utf8' });
  assert.equal(result.status, 0, `openssl ${args.join(' ')} failed: ${result.stderr}`);
  return result.stdout + result.stderr;
}

/** The SAN entries and TLS Feature as `openssl req -text` shows them, names put in our canonical form. */
function opensslView(text: string): { identifiers: Identifier[]; mustStaple: boolean; subject: string } {
  const san = /X509v3 Subject Alternative Name:[^\n]*\n\s*(.*)\n/.exec(text)?.[1] ?? '';
  const names = san.split(', ').map((entry) => entry.replace(/^(DNS|IP Address):/, ''));
  return {
    identifiers: normalizeIdentifiers(names),
    mustStaple: /TLS Feature: *\n\s*status_request/.test(text),
    subject: /Subject:(.*)\n/.exec(text)![1]!.trim(),
  };
}

const ATTRIBUTE_EXTENSION_REQUEST = '1.2.840.113549.1.9.14';

/** Verifies with pkijs and reads its SAN and TLS Feature. */
async function pkijsView(der: Uint8Array<ArrayBuffer>): Promise<{ identifiers: Identifier[]; mustStaple: boolean }> {
  const request = pkijs.CertificationRequest.fromBER(der);
  assert.equal(await request.verify(), true, 'pkijs verifies the signature');
  const attribute = request.attributes!.find((a) => a.type === ATTRIBUTE_EXTENSION_REQUEST)!;
  const extensions = new pkijs.Extensions({ schema: attribute.values[0] }).extensions;
  const san = extensions.find((e) => e.extnID === '2.5.29.17')!.parsedValue as pkijs.AltName;
  const identifiers = san.altNames.map((name): Identifier =>
    name.type === 2 ? { type: 'dns', value: name.value as string } : { type: 'ip', value: ipFromBytes((name.value as asn1js.OctetString).valueBlock.valueHexView) });
  const tlsFeature = extensions.find((e) => e.extnID === '1.3.6.1.5.5.7.1.24');
  const features = tlsFeature ? (asn1js.fromBER(tlsFeature.extnValue.valueBlock.valueHexView).result as asn1js.Sequence).valueBlock.value : [];
  return { identifiers, mustStaple: features.some((f) => (f as asn1js.Integer).valueBlock.valueDec === 5) };
}

const CASES = [
  { names: ['bücher.example', '*.example.com', 'www.example.com', '192.0.2.10', '2001:db8::1'], mustStaple: true, subject: 'CN = xn--bcher-kva.example' },
  { names: ['192.0.2.10', '::1', 'example.com'], mustStaple: false, subject: '' },
];

for (const type of ['rsa2048', 'ec256', 'ec384'] as const) {
  test(`our ${type} CSRs verify with openssl and pkijs, which read the same SANs and TLS Feature`, async () => {
    const key = await generateKey(type);
    for (const [i, { names, mustStaple, subject }] of CASES.entries()) {
      const identifiers = normalizeIdentifiers(names);
      const der = await createCsr({ key, identifiers, mustStaple });
      const file = join(dir, `${type}-${i}.csr`);
      writeFileSync(file, csrToPem(der));
      const text = openssl(['req', '-in', file, '-verify', '-noout', '-text']);
      assert.match(text, /self-signature verify OK/);
      assert.match(text, type === 'rsa2048' ? /Signature Algorithm: sha256WithRSAEncryption/ : type === 'ec256' ? /ecdsa-with-SHA256/ : /ecdsa-with-SHA384/);
      assert.deepEqual(opensslView(text), { identifiers, mustStaple, subject });
      assert.deepEqual(await pkijsView(der), { identifiers, mustStaple });
    }
  });
}

test('openssl refuses a CSR whose signature we altered (the check above can fail)', async () => {
  const der = await createCsr({ key: await generateKey('ec256'), identifiers: normalizeIdentifiers(['example.com']) });
  der[der.length - 3] ^= 1;
  const file = join(dir, 'tampered.csr');
  writeFileSync(file, csrToPem(der));
  // `openssl req -verify` exits 0 either way, so the verdict is read from its message.
  assert.match(openssl(['req', '-in', file, '-verify', '-noout']), /self-signature verify failure/);
  assert.equal(await pkijs.CertificationRequest.fromBER(der).verify(), false);
});

const OPENSSL_CSRS = [
  { what: 'RSA 2048 signed with SHA-384', key: ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'], req: ['-sha384'] },
  { what: 'P-384 signed with the default SHA-256', key: ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384'], req: [] },
  { what: 'P-256 with must-staple', key: ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'], req: ['-addext', 'tlsfeature=status_request'] },
];

for (const [i, { what, key, req }] of OPENSSL_CSRS.entries()) {
  test(`parseCsr reads a CSR from openssl: ${what}`, async () => {
    const keyFile = join(dir, `openssl-${i}.key`);
    const csrFile = join(dir, `openssl-${i}.csr`);
    openssl([...key, '-out', keyFile]);
    openssl(['req', '-new', '-key', keyFile, '-subj', '/CN=example.com', '-addext', 'subjectAltName=DNS:example.com,DNS:www.example.com,IP:2001:db8::7', ...req, '-out', csrFile]);
    const info = await parseCsr(pemDecode(readFileSync(csrFile, 'utf8')).der);
    assert.deepEqual(info.identifiers, normalizeIdentifiers(['example.com', 'www.example.com', '2001:db8::7']));
    assert.equal(info.mustStaple, req.includes('tlsfeature=status_request'));
    const spki = pemDecode(openssl(['pkey', '-in', keyFile, '-pubout']), ['PUBLIC KEY']).der;
    const jwk = await crypto.subtle.exportKey('jwk', await crypto.subtle.importKey('spki', spki,
      info.publicJwk.kty === 'RSA' ? { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } : { name: 'ECDSA', namedCurve: info.publicJwk.crv }, true, ['verify']));
    assert.deepEqual(info.publicJwk, info.publicJwk.kty === 'RSA' ? { kty: 'RSA', n: jwk.n, e: jwk.e } : { kty: 'EC', crv: jwk.crv, x: jwk.x, y: jwk.y });
  });
}

/** A CSR that openssl makes from a fresh key of the given kind. */
function opensslCsr(name: string, keyArgs: string[], reqArgs: string[]): Uint8Array<ArrayBuffer> {
  const keyFile = join(dir, `${name}.key`);
  const csrFile = join(dir, `${name}.csr`);
  openssl([...keyArgs, '-out', keyFile]);
  openssl(['req', '-new', '-key', keyFile, ...reqArgs, '-out', csrFile]);
  return pemDecode(readFileSync(csrFile, 'utf8')).der;
}

const P256 = ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'];

const REFUSED: { what: string; csr: () => Uint8Array<ArrayBuffer>; error: typeof RangeError | typeof SyntaxError; message: string }[] = [
  { what: 'an Ed25519 key', csr: () => opensslCsr('ed25519', ['genpkey', '-algorithm', 'ed25519'], ['-subj', '/CN=example.com']), error: RangeError, message: 'Unsupported key: Ed25519' },
  { what: 'an RSA key under 2048 bits', csr: () => opensslCsr('rsa1024', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:1024'], ['-subj', '/CN=example.com']),
    error: RangeError, message: 'Unsupported key: RSA 1024 bits' },
  { what: 'an RSA-PSS signature', csr: () => opensslCsr('pss', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'], ['-subj', '/CN=example.com', '-sigopt', 'rsa_padding_mode:pss']),
    error: RangeError, message: 'Cannot use CSR: signature algorithm RSASSA-PSS (1.2.840.113549.1.1.10) is not supported' },
  { what: 'a CN that is no host name', csr: () => opensslCsr('text-cn', P256, ['-subj', '/CN=My Web Server']), error: RangeError,
    message: 'Cannot use CSR: Invalid name "My Web Server": character " " is not allowed in a DNS name' },
  { what: 'no names at all', csr: () => opensslCsr('no-names', P256, ['-subj', '/O=Example']), error: RangeError, message: 'Cannot use CSR: it names no DNS name or IP address' },
  { what: 'a version other than 0', csr: () => {
    const der = opensslCsr('version', P256, ['-subj', '/CN=example.com']);
    const at = der.findIndex((_, i) => der[i] === 0x02 && der[i + 1] === 0x01 && der[i + 2] === 0x00);
    der[at + 2] = 1;
    return der;
  }, error: SyntaxError, message: 'Cannot parse CSR: version 1, expected 0' },
  { what: 'an RSA signature algorithm on an EC key', csr: () => {
    const [info, , signature] = (asn1js.fromBER(opensslCsr('mismatch', P256, ['-subj', '/CN=example.com'])).result as asn1js.Sequence).valueBlock.value;
    const rsaAlgorithm = new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: '1.2.840.113549.1.1.11' }), new asn1js.Null()] });
    return new Uint8Array(new asn1js.Sequence({ value: [info!, rsaAlgorithm, signature!] }).toBER());
  }, error: SyntaxError, message: 'Cannot use CSR: signed with sha256WithRSAEncryption but its key is EC' },
  { what: 'parameters on an ECDSA signature algorithm', csr: () => {
    const [info, , signature] = (asn1js.fromBER(opensslCsr('ec-params', P256, ['-subj', '/CN=example.com'])).result as asn1js.Sequence).valueBlock.value;
    const withNull = new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: '1.2.840.10045.4.3.2' }), new asn1js.Null()] });
    return new Uint8Array(new asn1js.Sequence({ value: [info!, withNull, signature!] }).toBER());
  }, error: SyntaxError, message: 'Cannot parse CSR: ecdsa-with-SHA256 has unexpected parameters' },
  { what: 'attributes that are not [0]', csr: () => {
    const csr = asn1js.fromBER(opensslCsr('attributes', P256, ['-subj', '/CN=example.com'])).result as asn1js.Sequence;
    const info = csr.valueBlock.value[0] as asn1js.Sequence;
    info.valueBlock.value[3] = new asn1js.Set();
    return new Uint8Array(csr.toBER());
  }, error: SyntaxError, message: 'Cannot parse CSR: expected attributes [0]' },
];

for (const { what, csr, error, message } of REFUSED) {
  test(`parseCsr refuses a CSR with ${what}`, async () => {
    await assert.rejects(parseCsr(csr()), (thrown: Error) => {
      assert.ok(thrown instanceof error, `${thrown.name}: ${thrown.message}`);
      assert.ok(thrown.message.includes(message), thrown.message);
      return true;
    });
  });
}
