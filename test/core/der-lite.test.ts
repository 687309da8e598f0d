import { assertEquals, assertThrows, test } from '../_harness.ts';
import { readCertificateSummary } from '../../core/_der-lite.ts';
import { hexDecode, pemDecode } from '../../core/encoding.ts';

// Made with `openssl req -x509` (OpenSSL 3.0); the expected values are what `openssl x509 -text` printed.
// SANs DNS, wildcard DNS, IPv4, IPv6 and an email; a UTCTime notBefore and a GeneralizedTime notAfter (after 2049).
const RICH = `
-----BEGIN CERTIFICATE-----
MIIB0DCCAXagAwIBAgIUVouhuLNKERLWHMZQK9t+62+9a5owCgYIKoZIzj0EAwIw
FjEUMBIGA1UEAwwLZXhhbXBsZS5jb20wIBcNMjYxMTI4MjIyNTQ1WhgPMjEyNjEx
MDQyMjI1NDVaMBYxFDASBgNVBAMMC2V4YW1wbGUuY29tMFkwEwYHKoZIzj0CAQYI
KoZIzj0DAQcDQgAEC7kz/8AkairnohdzKxQbGrsEHfaZuf+BDdiQ54fWpeauw5I/
U6LmIs268pp7Y2cnPj/hZcJf0LHDgqsrZNsXQ6OBnzCBnDAdBgNVHQ4EFgQU7xGw
fewhALFZakuq+uBWli3t6lIwHwYDVR0jBBgwFoAU7xGwfewhALFZakuq+uBWli3t
6lIwTAYDVR0RBEUwQ4ILZXhhbXBsZS5jb22CDSouZXhhbXBsZS5vcmeHBMAAAgGH
ECABDbgAAAAAAAAAAAAAAAGBDWFAZXhhbXBsZS5jb20wDAYDVR0TAQH/BAIwADAK
BggqhkjOPQQDAgNIADBFAiBqO554dAy2DpEbsVWE2f3PblCGoYaFCMFp0XieYcNr
TgIhAKOVXJ6LUTBbMX40Uw7GkkMQ22h/8aV+W1IqKqIrHtaq
-----END CERTIFICATE-----
`;
// A critical subjectAltName (empty CN), so the extension carries the BOOLEAN.
const CRITICAL_SAN = `
-----BEGIN CERTIFICATE-----
MIIBhjCCASygAwIBAgIUSuTj9PfGzuuvF7NIY3pc0OZ1v78wCgYIKoZIzj0EAwIw
DDEKMAgGA1UECgwBeDAeFw0yNjExMjgyMjI1NDhaFw0yNjExMjkyMjI1NDhaMAwx
CjAIBgNVBAoMAXgwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAQLuTP/wCRqKuei
F3MrFBsauwQd9pm5/4EN2JDnh9al5q7Dkj9TouYizbrymntjZyc+P+Flwl/QscOC
qytk2xdDo2wwajAdBgNVHQ4EFgQU7xGwfewhALFZakuq+uBWli3t6lIwHwYDVR0j
BBgwFoAU7xGwfewhALFZakuq+uBWli3t6lIwDwYDVR0TAQH/BAUwAwEB/zAXBgNV
HREBAf8EDTALgglhLmV4YW1wbGUwCgYIKoZIzj0EAwIDSAAwRQIhAK5SDwnhkZOv
ChibXT9X2AW+7lN3S8dXiDyEWB59K5rgAiB6jd4k845WXFuz5rTQ1axqWOiN9OX8
sWkEdNHcgZ1KfA==
-----END CERTIFICATE-----
`;
// Version 1: no extensions at all.
const V1 = `
-----BEGIN CERTIFICATE-----
MIIBFDCBuwIUDC/0RnJTgJdltve7G5ny6yqQGnAwCgYIKoZIzj0EAwIwDTELMAkG
A1UEAwwCdjEwHhcNMjYxMTI4MjIyNTQ4WhcNMjYxMTMwMjIyNTQ4WjANMQswCQYD
VQQDDAJ2MTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABAu5M//AJGoq56IXcysU
Gxq7BB32mbn/gQ3YkOeH1qXmrsOSP1Oi5iLNuvKae2NnJz4/4WXCX9Cxw4KrK2Tb
F0MwCgYIKoZIzj0EAwIDSAAwRQIhAJwk7BCHIF7rPlYhJ0bD41pqm/yw+owy4pHm
NgY02QzEAiBNYjd9bd4fk6rR6KWHAiDvq4dOsXVGQG6v5oEayvcOyw==
-----END CERTIFICATE-----
`;

const der = (pem: string) => pemDecode(pem, ['CERTIFICATE']).der;

test('readCertificateSummary: validity in both time forms and every dNSName and iPAddress', () => {
  assertEquals(readCertificateSummary(der(RICH)), {
    serialBytes: hexDecode('568ba1b8b34a1112d61cc6502bdb7eeb6fbd6b9a'),
    authorityKeyIdentifier: hexDecode('ef11b07dec2100b1596a4baafae056962dedea52'),
    notBefore: new Date('2026-11-28T22:25:45Z'),
    notAfter: new Date('2126-11-04T22:25:45Z'),
    dnsNames: ['example.com', '*.example.org'],
    ipAddresses: ['192.0.2.1', '2001:db8::1'],
  });
});

test('readCertificateSummary: a critical subjectAltName', () => {
  const summary = readCertificateSummary(der(CRITICAL_SAN));
  assertEquals(summary.dnsNames, ['a.example']);
  assertEquals(summary.authorityKeyIdentifier, hexDecode('ef11b07dec2100b1596a4baafae056962dedea52'));
});

test('readCertificateSummary: a version 1 certificate has no names and no AKI', () => {
  assertEquals(readCertificateSummary(der(V1)), {
    serialBytes: hexDecode('0c2ff4467253809765b6f7bb1b99f2eb2a901a70'),
    notBefore: new Date('2026-11-28T22:25:48Z'),
    notAfter: new Date('2026-11-30T22:25:48Z'),
    dnsNames: [],
    ipAddresses: [],
  });
});

test('readCertificateSummary: damaged DER is refused with a SyntaxError', () => {
  const good = der(RICH);
  const cases: [string, Uint8Array, string][] = [
    ['empty', new Uint8Array(0), 'truncated DER'],
    ['truncated', good.subarray(0, good.length - 1), 'truncated DER'],
    ['trailing byte', new Uint8Array([...good, 0]), 'not one DER SEQUENCE'],
    ['non-minimal length', new Uint8Array([0x30, 0x81, 0x01, 0x05]), 'not minimal'],
    ['not a SEQUENCE', new Uint8Array([0x04, 0x00]), 'not one DER SEQUENCE'],
    ['empty SEQUENCE', new Uint8Array([0x30, 0x00]), 'tbsCertificate is missing'],
    // tbsCertificate { version [0] { 2 }, serialNumber BOOLEAN } and { version, INTEGER with no octets }
    ['serial not an INTEGER', new Uint8Array([0x30, 0x09, 0x30, 0x07, 0xa0, 0x03, 0x02, 0x01, 0x02, 0x01, 0x00]), 'serialNumber is missing or has the wrong type'],
    ['empty serial', new Uint8Array([0x30, 0x09, 0x30, 0x07, 0xa0, 0x03, 0x02, 0x01, 0x02, 0x02, 0x00]), 'serialNumber is empty'],
  ];
  for (const [, bytes, message] of cases) assertThrows(() => readCertificateSummary(bytes), SyntaxError, message);
});

test('readCertificateSummary: a time that is not a date is refused', () => {
  const bytes = der(V1).slice();
  const text = String.fromCharCode(...bytes);
  const at = text.indexOf('261128222548Z');
  bytes.set([0x31, 0x33], at + 2); // month 13
  assertThrows(() => readCertificateSummary(bytes), SyntaxError, 'notBefore is not a valid date');
});
