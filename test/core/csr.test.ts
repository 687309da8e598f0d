import { assert, assertEquals, assertRejects, test } from '../_harness.ts';
import { createCsr, csrToPem, parseCsr } from '../../core/csr.ts';
import { pemDecode } from '../../core/encoding.ts';
import type { KeyType } from '../../core/engine.ts';
import { generateKey, keyFromJwk } from '../../core/keys.ts';
import { allEngines } from './_engines.ts';
import type { AcmeKey } from '../../core/keys.ts';
import { normalizeIdentifiers } from '../../core/names.ts';

const keys = new Map<KeyType, Promise<AcmeKey>>();
function keyOf(type: KeyType): Promise<AcmeKey> {
  if (!keys.has(type)) keys.set(type, generateKey(type));
  return keys.get(type)!;
}

const COMMON_NAME_OID = [0x06, 0x03, 0x55, 0x04, 0x03];
function contains(haystack: Uint8Array, needle: readonly number[]): boolean {
  return haystack.some((_, i) => needle.every((byte, j) => haystack[i + j] === byte));
}
function indexOfText(haystack: Uint8Array, text: string): number {
  const needle = Array.from(text, (char) => char.charCodeAt(0));
  return haystack.findIndex((_, i) => needle.every((byte, j) => haystack[i + j] === byte));
}

for (const type of ['ec256', 'ec384', 'rsa2048'] as const) {
  test(`csr: ${type} round trip through parseCsr with DNS names, IPs and must-staple`, async () => {
    const key = await keyOf(type);
    const identifiers = normalizeIdentifiers(['bücher.example', '*.example.com', '192.0.2.1', '2001:db8::1']);
    const der = await createCsr({ key, identifiers, mustStaple: true });
    assertEquals(await parseCsr(der), { identifiers, publicJwk: key.publicJwk, mustStaple: true });
    assert(contains(der, COMMON_NAME_OID), 'the first DNS name is the CN');
  });
}

test('csr: keys held by the fallback engines sign CSRs that those engines and WebCrypto verify', async () => {
  const { webcrypto, noble, nodeRsa } = await allEngines();
  const identifiers = normalizeIdentifiers(['example.com', '192.0.2.1']);
  for (const [type, engine] of [['ec256', noble], ['ec384', noble], ['rsa2048', nodeRsa]] as const) {
    const key = await keyFromJwk((await keyOf(type)).privateJwk, { engine });
    const der = await createCsr({ key, identifiers });
    for (const verifier of [engine, webcrypto]) {
      assertEquals(await parseCsr(der, { engine: verifier }), { identifiers, publicJwk: key.publicJwk, mustStaple: false }, `${type} by ${verifier.name}`);
    }
    const tampered = der.slice();
    tampered[tampered.length - 2] ^= 0x01;
    await assertRejects(() => parseCsr(tampered, { engine }), SyntaxError, 'its signature does not verify');
  }
  // RSASSA-PKCS1-v1_5 is deterministic, so both engines build the very same request.
  const webCryptoRsa = await createCsr({ key: await keyOf('rsa2048'), identifiers });
  assertEquals(await createCsr({ key: await keyFromJwk((await keyOf('rsa2048')).privateJwk, { engine: nodeRsa }), identifiers }), webCryptoRsa);
});

test('csr: without mustStaple there is no TLS Feature', async () => {
  const key = await keyOf('ec256');
  const der = await createCsr({ key, identifiers: normalizeIdentifiers(['example.com']) });
  assertEquals((await parseCsr(der)).mustStaple, false);
  assertEquals(contains(der, [0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x18]), false);
});

test('csr: no CN when the first identifier is an IP, and the order is kept', async () => {
  const key = await keyOf('ec256');
  const identifiers = normalizeIdentifiers(['192.0.2.1', 'example.com']);
  const der = await createCsr({ key, identifiers });
  assertEquals(contains(der, COMMON_NAME_OID), false);
  assertEquals((await parseCsr(der)).identifiers, identifiers);
});

test('csr: no CN when the first name is longer than 64 characters', async () => {
  const key = await keyOf('ec256');
  const long = `${'a'.repeat(60)}.example`;
  const der = await createCsr({ key, identifiers: normalizeIdentifiers([long, 'example.com']) });
  assertEquals(contains(der, COMMON_NAME_OID), false);
  assertEquals((await parseCsr(der)).identifiers[0]!.value, long);
});

test('csr: PEM form', async () => {
  const der = await createCsr({ key: await keyOf('ec256'), identifiers: normalizeIdentifiers(['example.com']) });
  const block = pemDecode(csrToPem(der));
  assertEquals(block.label, 'CERTIFICATE REQUEST');
  assertEquals(block.der, der);
});

test('csr: identifiers that are not normalised are refused', async () => {
  const key = await keyOf('ec256');
  await assertRejects(() => createCsr({ key, identifiers: [] }), RangeError, 'Cannot create CSR: no identifiers');
  await assertRejects(() => createCsr({ key, identifiers: [{ type: 'dns', value: 'Bücher.example' }] }), RangeError,
    'Cannot create CSR: identifier dns "Bücher.example" is not normalised (expected dns "xn--bcher-kva.example")');
  await assertRejects(() => createCsr({ key, identifiers: [{ type: 'dns', value: '192.0.2.1' }] }), RangeError, 'expected ip "192.0.2.1"');
  await assertRejects(() => createCsr({ key, identifiers: [{ type: 'dns', value: 'a..b' }] }), RangeError, 'Invalid name "a..b": it has an empty label');
});

for (const type of ['ec256', 'rsa2048'] as const) {
  test(`csr: ${type} with a tampered signature or body is refused`, async () => {
    const der = await createCsr({ key: await keyOf(type), identifiers: normalizeIdentifiers(['www.example.com']) });
    const badSignature = der.slice();
    badSignature[badSignature.length - 5] ^= 0x01;
    await assertRejects(() => parseCsr(badSignature), SyntaxError, 'Cannot use CSR: its signature does not verify with its own public key');
    const badBody = der.slice();
    badBody[indexOfText(badBody, 'www.example')] = 'x'.charCodeAt(0);
    await assertRejects(() => parseCsr(badBody), SyntaxError, 'its signature does not verify');
  });
}

test('csr: a CSR whose signature comes from another key is refused', async () => {
  const identifiers = normalizeIdentifiers(['example.com']);
  const ours = await createCsr({ key: await keyOf('rsa2048'), identifiers });
  const theirs = await createCsr({ key: await generateKey('rsa2048'), identifiers });
  // An RSA-2048 signature is the last 256 bytes, and both requests have the same layout.
  const spliced = new Uint8Array([...ours.subarray(0, ours.length - 256), ...theirs.subarray(theirs.length - 256)]);
  await assertRejects(() => parseCsr(spliced), SyntaxError, 'its signature does not verify');
});

test('csr: malformed DER is a SyntaxError naming the structure', async () => {
  await assertRejects(() => parseCsr(new Uint8Array([1, 2, 3])), SyntaxError, 'Cannot parse CSR');
  const der = await createCsr({ key: await keyOf('ec256'), identifiers: normalizeIdentifiers(['example.com']) });
  await assertRejects(() => parseCsr(new Uint8Array([...der, 0])), SyntaxError, 'Cannot parse CSR: 1 bytes follow the DER value');
  await assertRejects(() => parseCsr(der.subarray(0, der.length - 10)), SyntaxError, 'Cannot parse CSR');
});

// `openssl req -new -key p384.key -subj /CN=Example.com -addext subjectAltName=DNS:example.com,DNS:www.example.com,IP:192.0.2.1`:
// openssl signs with SHA-256 whatever the curve, a pair the engines do not sign with.
const OPENSSL_P384_SHA256_CSR = `-----BEGIN CERTIFICATE REQUEST-----
MIIBTjCB1QIBADAWMRQwEgYDVQQDDAtFeGFtcGxlLmNvbTB2MBAGByqGSM49AgEG
BSuBBAAiA2IABKnZX/UTtzf35xXdk22SrDHKzVH+mQj6OvXsRloK7/yhXfNy/msd
t8lc5F5T+EXleWaHF6nkh5unXJZy1yDEPWuSrQ93OLxpiJvZQ7kfudvv6cauk2sb
J69sd2jVE5QwPKBAMD4GCSqGSIb3DQEJDjExMC8wLQYDVR0RBCYwJIILZXhhbXBs
ZS5jb22CD3d3dy5leGFtcGxlLmNvbYcEwAACATAKBggqhkjOPQQDAgNoADBlAjEA
yhRCAyMo7MdSfK52YdUaZF6nAIzmpyYz6OxEnuVYs75RLcT1lspYwpUsiYDbZ+U6
AjBCoFAOTKcOn3qEdnwpkPw7RRKkUrdItBZ1M0ausFsMlfarQOb2NwdTLQN/JlJX
Wak=
-----END CERTIFICATE REQUEST-----`;

// `openssl req -new -key e.key -subj /CN=mail.example -addext subjectAltName=DNS:mail.example,email:postmaster@mail.example`
const OPENSSL_EMAIL_CSR = `-----BEGIN CERTIFICATE REQUEST-----
MIIBFTCBvAIBADAXMRUwEwYDVQQDDAxtYWlsLmV4YW1wbGUwWTATBgcqhkjOPQIB
BggqhkjOPQMBBwNCAATdPFBJnBpkJ/J64BxtxH2ZEX6mgF0U9j/Cjfh6BK5rbTvA
Vi5JDfrP4e1gCfR8WB1mho4iJfHBRbf56zWwdOHPoEMwQQYJKoZIhvcNAQkOMTQw
MjAwBgNVHREEKTAnggxtYWlsLmV4YW1wbGWBF3Bvc3RtYXN0ZXJAbWFpbC5leGFt
cGxlMAoGCCqGSM49BAMCA0gAMEUCIFiQVi0KXn7rSTwr9mY9d9TsELNwGx+dM1Ts
Fniv/ubqAiEAmGnd4oTE0grZpDnh35tLgOSlD2Kv7adWYHx8mkvrehM=
-----END CERTIFICATE REQUEST-----`;

test('csr: an openssl P-384 CSR signed with SHA-256 is read, the CN merged with the SAN', async () => {
  const info = await parseCsr(pemDecode(OPENSSL_P384_SHA256_CSR).der);
  assertEquals(info.identifiers, normalizeIdentifiers(['example.com', 'www.example.com', '192.0.2.1']));
  assertEquals(info.publicJwk.kty === 'EC' && info.publicJwk.crv, 'P-384');
  assertEquals(info.mustStaple, false);
});

test('csr: a SAN with an e-mail address is refused', async () => {
  await assertRejects(() => parseCsr(pemDecode(OPENSSL_EMAIL_CSR).der), RangeError, 'Cannot use CSR: its subjectAltName holds rfc822Name, which ACME cannot validate');
});
