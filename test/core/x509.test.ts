import { assertEquals, assertThrows, test } from '../_harness.ts';
import { hexDecode, hexEncode, pemDecode, pemEncode } from '../../core/encoding.ts';
import { compareIdentifiers, identifiersOf, normalizeIdentifiers } from '../../core/names.ts';
import { certificateMatchesKey, parseCertificate, parseCertificateChain } from '../../core/x509.ts';

// Made with openssl for this test: an EC root "O=Test, CN=Prüfstelle Root ✓" (UTF8String), and a leaf it signed
// with `openssl ca -startdate 20250101000000Z -enddate 20510203040506Z` (so notAfter is a GeneralizedTime),
// serial 0x80a1b2c3d4e5f60718293a4b5c6d7e8f90 (DER adds a 00 sign byte), subject CN=bücher.example and
// subjectAltName = DNS:xn--bcher-kva.example, DNS:*.example.com, IP:192.0.2.10, IP:2001:db8::1, email:a@b.example.
const ROOT = `-----BEGIN CERTIFICATE-----
MIIBjTCCATOgAwIBAgIBATAKBggqhkjOPQQDAjAuMQ0wCwYDVQQKDARUZXN0MR0w
GwYDVQQDDBRQcsO8ZnN0ZWxsZSBSb290IOKckzAeFw0yNjExMjgyMjI0MjBaFw0z
NjExMjUyMjI0MjBaMC4xDTALBgNVBAoMBFRlc3QxHTAbBgNVBAMMFFByw7xmc3Rl
bGxlIFJvb3Qg4pyTMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEznsmcyJGK1WG
dP8NGqbaN2FTSgiRIop5YSvgWFJGCQpIf5Vk8AVyE8iZgQW9Y2cAw2qoUVyv78td
tMMF/KzH7KNCMEAwDwYDVR0TAQH/BAUwAwEB/zAOBgNVHQ8BAf8EBAMCAgQwHQYD
VR0OBBYEFBnN9m1ngPY7N4cYLW9ybZc1LOJJMAoGCCqGSM49BAMCA0gAMEUCIHbx
l+LRwdKEPsdMjDAarasfJJdhxw6OiJaPJopqea4VAiEA5buM5IZmUWEFADFDUiCw
NNWW/6guCWxKmyg4eEZx32g=
-----END CERTIFICATE-----
`;
const LEAF = `-----BEGIN CERTIFICATE-----
MIIB8DCCAZWgAwIBAgISAIChssPU5fYHGCk6S1xtfo+QMAoGCCqGSM49BAMCMC4x
DTALBgNVBAoMBFRlc3QxHTAbBgNVBAMMFFByw7xmc3RlbGxlIFJvb3Qg4pyTMCAX
DTI1MDEwMTAwMDAwMFoYDzIwNTEwMjAzMDQwNTA2WjAaMRgwFgYDVQQDDA9iw7xj
aGVyLmV4YW1wbGUwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAARgpA4+bIL43bgL
aF1GMCuPp9o1Oq8voGwb/w4nDjZUa05bxXOEpC6LXGpe6viNNRJ4zEGjUVKyzhPO
TGXFHW0ko4GkMIGhMFQGA1UdEQRNMEuCFXhuLS1iY2hlci1rdmEuZXhhbXBsZYIN
Ki5leGFtcGxlLmNvbYcEwAACCocQIAENuAAAAAAAAAAAAAAAAYELYUBiLmV4YW1w
bGUwHwYDVR0jBBgwFoAUGc32bWeA9js3hxgtb3JtlzUs4kkwHQYDVR0OBBYEFOq5
DAoAK/k0XF4gjsoAUYnXMUueMAkGA1UdEwQCMAAwCgYIKoZIzj0EAwIDSQAwRgIh
APmd/ZzeghZvbC7ILo4csK49+uJlzF204ylfEGqfBlYtAiEAvrI3DUrzUyGIjywV
PQjvFolvJ3tUKC5TXG3xejGMEjA=
-----END CERTIFICATE-----
`;
// `openssl x509 -req -key ed.key -set_serial -4660` with string_mask=pkix: a version 1 certificate without
// extensions, an Ed25519 key, a negative serial, O=Fixture as PrintableString and CN=Ωmega Ed25519 v1 as BMPString.
const ED25519_V1 = `-----BEGIN CERTIFICATE-----
MIIBIjCB1QIC7cwwBQYDK2VwMD0xEDAOBgNVBAoTB0ZpeHR1cmUxKTAnBgNVBAMe
IAOpAG0AZQBnAGEAIABFAGQAMgA1ADUAMQA5ACAAdgAxMB4XDTI2MTEyODIyMjQz
NVoXDTQ2MTEyMzIyMjQzNVowPTEQMA4GA1UEChMHRml4dHVyZTEpMCcGA1UEAx4g
A6kAbQBlAGcAYQAgAEUAZAAyADUANQAxADkAIAB2ADEwKjAFBgMrZXADIQDtgLOB
iKSpMahKaBNDGjHfMCQu+2ihTpeLHLJEQxfMSDAFBgMrZXADQQAP7qx4WyjFV1ol
32Dk7fjqgyxiCVAkTmQePno7KViIy/GzqUR1zxV4cDgIn8hwqVgiYSRVaHwtJc65
9EHFFI0D
-----END CERTIFICATE-----
`;
const ROOT_KEY_ID = hexDecode('19cdf66d6780f63b3787182d6f726d97352ce249');

test('x509: a leaf and its root from one PEM chain, with text around the blocks', () => {
  const [leaf, root] = parseCertificateChain(`leaf:\n${LEAF}\nroot:\r\n${ROOT.replace(/\n/g, '\r\n')}`);
  assertEquals(leaf!.subjectCn, 'bücher.example');
  assertEquals(leaf!.issuerCn, 'Prüfstelle Root ✓');
  assertEquals(leaf!.serialHex, '80a1b2c3d4e5f60718293a4b5c6d7e8f90');
  assertEquals(leaf!.serialBytes, hexDecode('0080a1b2c3d4e5f60718293a4b5c6d7e8f90'));
  assertEquals(leaf!.notBefore, new Date('2025-01-01T00:00:00Z'));
  assertEquals(leaf!.notAfter, new Date('2051-02-03T04:05:06Z'));
  assertEquals(leaf!.dnsNames, ['xn--bcher-kva.example', '*.example.com']);
  assertEquals(leaf!.ipAddresses, ['192.0.2.10', '2001:db8::1']);
  assertEquals(leaf!.authorityKeyIdentifier, ROOT_KEY_ID);
  assertEquals(leaf!.subjectKeyIdentifier, hexDecode('eab90c0a002bf9345c5e208eca005189d7314b9e'));
  assertEquals(leaf!.publicJwk, {
    kty: 'EC', crv: 'P-256', x: 'YKQOPmyC-N24C2hdRjArj6faNTqvL6BsG_8OJw42VGs', y: 'TlvFc4SkLotcal7q-I01EnjMQaNRUrLOE85MZcUdbSQ',
  });
  assertEquals(leaf!.der, pemDecode(LEAF).der);

  assertEquals(root!.subjectCn, 'Prüfstelle Root ✓');
  assertEquals(root!.serialHex, '01');
  assertEquals(root!.subjectKeyIdentifier, ROOT_KEY_ID);
  assertEquals(root!.authorityKeyIdentifier, undefined);
  assertEquals(root!.notAfter, new Date('2036-11-25T22:24:20Z'));
  assertEquals(root!.dnsNames, []);
});

test('x509: version 1, no extensions, negative serial, BMPString CN, Ed25519 key', () => {
  const cert = parseCertificate(pemDecode(ED25519_V1).der);
  assertEquals(cert.subjectCn, 'Ωmega Ed25519 v1');
  assertEquals(cert.issuerCn, 'Ωmega Ed25519 v1');
  assertEquals(cert.serialBytes, hexDecode('edcc'));
  assertEquals(cert.serialHex, 'edcc');
  assertEquals(cert.notBefore, new Date('2026-11-28T22:24:35Z'));
  assertEquals(cert.notAfter, new Date('2046-11-23T22:24:35Z'));
  assertEquals([cert.dnsNames, cert.ipAddresses, cert.authorityKeyIdentifier, cert.publicJwk], [[], [], undefined, undefined]);
});

test('x509: certificateMatchesKey', () => {
  const [leaf, root] = parseCertificateChain(LEAF + ROOT);
  assertEquals(certificateMatchesKey(leaf!, leaf!.publicJwk!), true);
  assertEquals(certificateMatchesKey(leaf!, root!.publicJwk!), false);
  assertEquals(certificateMatchesKey(parseCertificateChain(ED25519_V1)[0]!, leaf!.publicJwk!), false);
});

test('x509 + names: the SANs of a certificate compared with the names we asked for', () => {
  const [leaf] = parseCertificateChain(LEAF);
  const diff = (names: string[]) => compareIdentifiers(identifiersOf(leaf!), normalizeIdentifiers(names));
  const values = (result: ReturnType<typeof diff>) => ({ missing: result.missing.map((i) => i.value), extra: result.extra.map((i) => i.value) });
  assertEquals(values(diff(['Bücher.example', '*.example.com', '192.0.2.10', '2001:DB8:0::1'])), { missing: [], extra: [] });
  assertEquals(values(diff(['bücher.example', 'other.example'])), { missing: ['other.example'], extra: ['*.example.com', '192.0.2.10', '2001:db8::1'] });
  assertEquals(diff(['www.example.com']).missing.map((i) => i.value), ['www.example.com'], 'a wildcard SAN is not a name we asked for');
  assertEquals(diff(['192.0.2.11']).missing, [{ type: 'ip', value: '192.0.2.11' }]);
});

function replaceText(der: Uint8Array, from: string, to: string): Uint8Array {
  const needle = Array.from(from, (char) => char.charCodeAt(0));
  const at = der.findIndex((_, i) => needle.every((byte, j) => der[i + j] === byte));
  if (at < 0) throw new Error(`${from} is not in the DER`);
  const out = der.slice();
  out.set(Array.from(to, (char) => char.charCodeAt(0)), at);
  return out;
}

test('x509: malformed input is a SyntaxError naming what is wrong', () => {
  const der = pemDecode(LEAF).der;
  assertThrows(() => parseCertificate(der.subarray(0, 100)), SyntaxError, 'Cannot parse certificate');
  assertThrows(() => parseCertificate(new Uint8Array([...der, 0, 0])), SyntaxError, 'Cannot parse certificate: 2 bytes follow the DER value');
  assertThrows(() => parseCertificate(replaceText(der, '250101000000Z', '2501X1000000Z')), SyntaxError,
    'Cannot parse certificate notBefore: "2501X1000000Z" is not a UTCTime YYMMDDHHMMSSZ');
  assertThrows(() => parseCertificate(replaceText(der, '20510203040506Z', '20510230040506Z')), SyntaxError,
    'Cannot parse certificate notAfter: "20510230040506Z" is not a real date and time');
  assertThrows(() => parseCertificate(replaceText(der, '20510203040506Z', '2051020304050Z6')), SyntaxError, 'Cannot parse certificate: not DER');
  assertThrows(() => parseCertificate(replaceText(der, '20510203040506Z', '205102030405+06')), SyntaxError,
    'Cannot parse certificate notAfter: "205102030405+06" is not a GeneralizedTime YYYYMMDDHHMMSSZ');
  assertThrows(() => parseCertificate(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01])), SyntaxError, 'Cannot parse certificate: 1 elements, expected 3');
});

test('x509: a chain must hold certificates only', () => {
  assertThrows(() => parseCertificateChain(LEAF + pemEncode('PRIVATE KEY', new Uint8Array([1]))), SyntaxError,
    'Cannot parse certificate chain: block 2 is "PRIVATE KEY", not "CERTIFICATE"');
  assertThrows(() => parseCertificateChain('<html>not found</html>'), SyntaxError, 'Cannot parse PEM: no "-----BEGIN" line');
});

/** The certificate with one run of bytes replaced by another of the same length, so every length stays right. */
function patched(pem: string, fromHex: string, toHex: string): Uint8Array {
  const hex = hexEncode(pemDecode(pem).der);
  if (hex.split(fromHex).length !== 2 || fromHex.length !== toHex.length) throw new Error(`cannot patch ${fromHex}: it must occur once and keep its length`);
  return hexDecode(hex.replace(fromHex, toHex));
}

const MALFORMED: [string, Uint8Array, string][] = [
  ['an unknown version', patched(LEAF, 'a003020102', 'a003020105'), 'Cannot parse certificate: version 6 is unknown'],
  ['a serial that is no INTEGER', patched(LEAF, '021200', '041200'), 'Cannot parse certificate serialNumber: expected INTEGER'],
  ['a notBefore that is no time', patched(LEAF, '170d323530', '130d323530'), 'Cannot parse certificate notBefore: expected UTCTime or GeneralizedTime'],
  ['an RDN that is no SET', patched(LEAF, '3118301606035504030c0f62c3bc', '3018301606035504030c0f62c3bc'), 'Cannot parse certificate subject: a relative distinguished name is not a SET'],
  ['a CN that is no string', patched(LEAF, '0c0f62c3bc', '040f62c3bc'), 'Cannot parse certificate subject commonName: expected a string, found tag 4 of class 1'],
  ['a UTF8String that is not UTF-8', patched(LEAF, '0c0f62c3bc', '0c0f62ffbc'), 'Cannot parse certificate subject commonName: UTF8String is not valid UTF-8'],
  ['a dNSName that is not ASCII', patched(LEAF, '8215786e2d2d', '8215ff6e2d2d'), 'Cannot parse certificate dNSName: it is not printable ASCII (IA5String)'],
  // The 16-octet IPv6 entry becomes a 5-octet iPAddress and a 9-octet dNSName of the same total length.
  ['an iPAddress of 5 octets', patched(LEAF, '871020010db8000000000000000000000001', '870501020304058209616161616161616161'),
    'Cannot parse certificate iPAddress: 5 octets (expected 4 or 16)'],
  ['an extension that appears twice', patched(LEAF, '0603551d0e', '0603551d23'), 'Cannot parse certificate: extension 2.5.29.35 appears twice'],
  ['a "critical" that is no BOOLEAN', patched(ROOT, '0603551d130101ff', '0603551d130201ff'), 'Cannot parse certificate extension 2.5.29.19: "critical" is not a BOOLEAN'],
];

for (const [what, der, message] of MALFORMED) {
  test(`x509: ${what} is a SyntaxError that says so`, () => {
    assertThrows(() => parseCertificate(der), SyntaxError, message);
  });
}
