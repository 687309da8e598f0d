// Keys: RFC 7638 thumbprint, SPKI and PEM forms, and every refusal with its message.
import { assertEquals, assertThrows, test } from '../_harness.ts';
import { concatBytes, hexDecode, hexEncode } from '../../core/encoding.ts';
import type { EcPublicJwk } from '../../core/engine.ts';
import { publicKeyFromSpki, spkiFromPublicJwk } from '../../core/spki.ts';

// RFC 7515 A.3.1's P-256 key; its SPKI DER was written once by an independent encoder (Node's crypto KeyObject).
const A3_PUBLIC: EcPublicJwk = { kty: 'EC', crv: 'P-256', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0' };
const A3_SPKI_HEX =
  '3059301306072a8648ce3d020106082a8648ce3d030107034200047fcdce2770f6c45d4183cbee6fdb4b7b580733357be9ef13bacf6e3c7bd15445c7f144cd1bbd9b7e872cdfedb9eeb9f4b3695d6ea90b24ad8a4623288588e5ad';

test('spki: RFC 7515 A.3 key encodes to the reference DER and back', () => {
  assertEquals(hexEncode(spkiFromPublicJwk(A3_PUBLIC)), A3_SPKI_HEX);
  assertEquals(publicKeyFromSpki(hexDecode(A3_SPKI_HEX)), A3_PUBLIC);
});

test('spki: WebCrypto exports of RSA and P-384 keys read and re-encode byte for byte', async () => {
  const params = [
    { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
    { name: 'ECDSA', namedCurve: 'P-384' },
  ];
  for (const param of params) {
    const pair = (await crypto.subtle.generateKey(param, true, ['sign', 'verify'])) as CryptoKeyPair;
    const spki = new Uint8Array(await crypto.subtle.exportKey('spki', pair.publicKey));
    const jwk = await crypto.subtle.exportKey('jwk', pair.publicKey);
    const ours = publicKeyFromSpki(spki);
    const expected = jwk.kty === 'RSA' ? { kty: 'RSA', n: jwk.n, e: jwk.e } : { kty: 'EC', crv: jwk.crv, x: jwk.x, y: jwk.y };
    assertEquals(ours as unknown, expected, param.name);
    assertEquals(spkiFromPublicJwk(ours), spki, param.name);
  }
});

// A DER writer independent of core/_der.ts, to craft inputs the code under test must refuse.
function der(tag: number, ...parts: (Uint8Array | string)[]): Uint8Array {
  const body = concatBytes(...parts.map((part) => (typeof part === 'string' ? hexDecode(part) : part)));
  const length = body.length < 0x80 ? [body.length] : body.length < 0x100 ? [0x81, body.length] : [0x82, body.length >> 8, body.length & 0xff];
  return concatBytes(new Uint8Array([tag, ...length]), body);
}
const SEQUENCE = 0x30;
const OID = { ecPublicKey: '06072a8648ce3d0201', p256: '06082a8648ce3d030107', p521: '06052b81040023', ed25519: '06032b6570', unknown: '06052a03040506' };
const bitString = (hex: string) => der(0x03, '00', hex);
const point = (hex: string) => bitString(hex);

test('spki: refuses keys ACME does not take, naming them', () => {
  const cases: [Uint8Array, string][] = [
    [der(SEQUENCE, der(SEQUENCE, OID.ed25519), bitString('11'.repeat(32))), 'Unsupported key: Ed25519 (use RSA 2048 to 4096 bits, or EC P-256 or P-384)'],
    [der(SEQUENCE, der(SEQUENCE, OID.ecPublicKey, OID.p521), point('04' + '22'.repeat(132))), 'Unsupported key: EC P-521 (use'],
    [der(SEQUENCE, der(SEQUENCE, OID.ecPublicKey, der(SEQUENCE, '020101')), point('04')), 'Unsupported key: EC with explicit curve parameters (rewrite it with "openssl ec -param_enc named_curve")'],
    [der(SEQUENCE, der(SEQUENCE, OID.unknown), bitString('00')), 'Unsupported key: algorithm 1.2.3.4.5.6 (use'],
  ];
  for (const [spki, message] of cases) assertThrows(() => publicKeyFromSpki(spki), RangeError, message);
});

test('spki: refuses malformed DER', () => {
  const what = 'Cannot parse SubjectPublicKeyInfo';
  assertThrows(() => publicKeyFromSpki(new Uint8Array([1, 2, 3])), SyntaxError, `${what}: not DER`);
  assertThrows(() => publicKeyFromSpki(der(SEQUENCE)), SyntaxError, `${what}: 0 elements, expected 2`);
  assertThrows(() => publicKeyFromSpki(hexDecode(A3_SPKI_HEX + '00')), SyntaxError, `${what}: 1 bytes follow the DER value`);
  const p256 = der(SEQUENCE, OID.ecPublicKey, OID.p256);
  assertThrows(() => publicKeyFromSpki(der(SEQUENCE, p256, point('04' + '11'.repeat(63)))), SyntaxError, `${what}: not an uncompressed P-256 point (64 bytes)`);
  assertThrows(() => publicKeyFromSpki(der(SEQUENCE, p256, point('02' + '11'.repeat(32)))), RangeError, 'Cannot read SubjectPublicKeyInfo: the EC point is compressed');
  assertThrows(() => publicKeyFromSpki(der(SEQUENCE, p256, der(0x04, '00'))), SyntaxError, `${what} key: expected BIT STRING, found OCTET STRING`);
});
