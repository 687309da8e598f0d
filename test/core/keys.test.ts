// Keys: RFC 7638 thumbprints, JWK checks, SPKI and PEM forms (checked against an independent DER writer and
// WebCrypto's own PKCS#8), and every refusal with its message.
import { assertEquals, assertRejects, assertThrows, test } from '../_harness.ts';
import { A2_KEY, A3_KEY, RFC7638_KEY, RFC7638_THUMBPRINT } from './_vectors.ts';
import { allEngines } from './_engines.ts';
import { base64UrlDecode, base64UrlEncode, concatBytes, hexDecode, hexEncode, pemDecode, pemEncode } from '../../core/encoding.ts';
import type { EcPrivateJwk, EcPublicJwk, PrivateJwk } from '../../core/engine.ts';
import { generateKey, jwkThumbprint, keyFromJwk, keyTypeOfJwk } from '../../core/keys.ts';
import { exportPkcs8Pem, importKey } from '../../core/key-pem.ts';
import { publicKeyFromSpki, spkiFromPublicJwk } from '../../core/spki.ts';

// RFC 7515 A.3.1's P-256 key; its SPKI DER was written once by an independent encoder (Node's crypto KeyObject).
const A3_PUBLIC: EcPublicJwk = { kty: 'EC', crv: 'P-256', x: A3_KEY.x, y: A3_KEY.y };
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

// RFC 7638 §3.1 publishes the RSA thumbprint. For EC the canonical JSON of the A.3 key was hashed independently:
// printf '%s' '{"crv":"P-256","kty":"EC","x":"…","y":"…"}' | openssl dgst -sha256 -binary | base64 (base64url-ed).
test('keys: RFC 7638 §3.1 thumbprint, and an EC thumbprint, in every engine', async () => {
  for (const engine of Object.values(await allEngines())) {
    assertEquals(await jwkThumbprint(RFC7638_KEY, engine), RFC7638_THUMBPRINT, engine.name);
    assertEquals(await jwkThumbprint(A3_PUBLIC, engine), 'oKIywvGUpTVTyxMQ3bwIIeQUudfr_CkLMjCE19ECD-U', engine.name);
  }
  // Members beyond the required ones do not count (RFC 7638 §3.2).
  assertEquals(await jwkThumbprint({ ...RFC7638_KEY, kid: '2011-04-29', alg: 'RS256' } as typeof RFC7638_KEY), RFC7638_THUMBPRINT);
});

test('keys: key types of JWKs, and the JWKs ACME CAs refuse', () => {
  assertEquals(keyTypeOfJwk(A2_KEY), 'rsa2048');
  assertEquals(keyTypeOfJwk(A3_KEY), 'ec256');
  const use = '(use RSA 2048 to 4096 bits, or EC P-256 or P-384)';
  const cases: [unknown, string][] = [
    [{ kty: 'EC', crv: 'P-521', x: 'AA', y: 'AA' }, `Unsupported key: EC P-521 ${use}`],
    [{ kty: 'OKP', crv: 'Ed25519', x: 'AA' }, `Unsupported key: Ed25519 ${use}`],
    [{ kty: 'oct', k: 'AA' }, `Unsupported key: kty "oct" ${use}`],
    [{ kty: 'RSA', n: base64UrlEncode(new Uint8Array(128).fill(0xff)), e: 'AQAB' }, `Unsupported key: RSA 1024 bits ${use}`],
    [{ kty: 'RSA', n: base64UrlEncode(new Uint8Array(1024).fill(0xff)), e: 'AQAB' }, `Unsupported key: RSA 8192 bits ${use}`],
  ];
  for (const [jwk, message] of cases) assertThrows(() => keyTypeOfJwk(jwk as EcPublicJwk), RangeError, message);
});

test('keys: a private JWK must hold every member, each base64url', async () => {
  const { d: _d, ...noD } = A3_KEY;
  await assertRejects(() => keyFromJwk(noD as EcPrivateJwk), TypeError, 'Cannot use JWK: EC private key lacks "d"');
  await assertRejects(() => keyFromJwk({ ...A2_KEY, qi: 'not base64url!' }), TypeError, 'Cannot use JWK: "qi" is not base64url');
  const key = await keyFromJwk({ ...A3_KEY, kid: 'extra members are dropped' } as EcPrivateJwk);
  assertEquals(key.privateJwk, A3_KEY);
  assertEquals(key.publicJwk, A3_PUBLIC);
});

// DER for the PEM tests, written by hand here so that it does not share code with the encoder under test.
const INTEGER = 0x02;
const OCTET_STRING = 0x04;
const OID_RSA = '06092a864886f70d010101';
const OID_DSA = '06072a8648ce380401';
const NULL = '0500';
const int = (bytes: Uint8Array) => der(INTEGER, bytes[0]! & 0x80 ? concatBytes(new Uint8Array(1), bytes) : bytes);
const small = (value: number) => der(INTEGER, new Uint8Array([value]));
const fromJwk = (value: string) => int(base64UrlDecode(value));
const pem = (label: string, bytes: Uint8Array) => pemEncode(label, bytes);

function pkcs1(jwk: typeof A2_KEY, version = 0): Uint8Array {
  return der(SEQUENCE, small(version), ...[jwk.n, jwk.e, jwk.d, jwk.p, jwk.q, jwk.dp, jwk.dq, jwk.qi].map(fromJwk));
}

/** RFC 5915 ECPrivateKey with the optional [0] parameters and [1] public key as asked. */
function sec1(jwk: EcPrivateJwk, parts: { curveOid?: string; point?: boolean }): Uint8Array {
  const items = [small(1), der(OCTET_STRING, base64UrlDecode(jwk.d))];
  if (parts.curveOid) items.push(der(0xa0, parts.curveOid));
  if (parts.point) items.push(der(0xa1, point(hexEncode(concatBytes(new Uint8Array([4]), base64UrlDecode(jwk.x), base64UrlDecode(jwk.y))))));
  return der(SEQUENCE, ...items);
}

function pkcs8(algorithm: Uint8Array, key: Uint8Array): Uint8Array {
  return der(SEQUENCE, small(0), algorithm, der(OCTET_STRING, key));
}
const EC_P256 = der(SEQUENCE, OID.ecPublicKey, OID.p256);

test('pem: PKCS#1 and PKCS#8 RSA keys import, and our PKCS#8 is byte for byte the independent encoding', async () => {
  const pkcs8Pem = pem('PRIVATE KEY', pkcs8(der(SEQUENCE, OID_RSA, NULL), pkcs1(A2_KEY)));
  assertEquals((await importKey(pem('RSA PRIVATE KEY', pkcs1(A2_KEY)))).privateJwk, A2_KEY);
  const key = await importKey(pkcs8Pem);
  assertEquals(key.privateJwk, A2_KEY);
  assertEquals(key.type, 'rsa2048');
  assertEquals(exportPkcs8Pem(key), pkcs8Pem);
});

test('pem: SEC1 EC keys import with or without parameters and public key, and PKCS#8 matches the independent encoding', async () => {
  for (const curveOid of [OID.p256, undefined]) {
    for (const withPoint of [true, false]) {
      const key = await importKey(pem('EC PRIVATE KEY', sec1(A3_KEY, { curveOid, point: withPoint })));
      // Without the point it is derived from d, which must give the published x and y back.
      assertEquals(key.privateJwk, A3_KEY, `parameters ${curveOid !== undefined}, public key ${withPoint}`);
    }
  }
  const pkcs8Pem = pem('PRIVATE KEY', pkcs8(EC_P256, sec1(A3_KEY, { point: true })));
  assertEquals((await importKey(pkcs8Pem)).privateJwk, A3_KEY);
  assertEquals(exportPkcs8Pem(await keyFromJwk(A3_KEY)), pkcs8Pem);
  assertEquals((await importKey(pem('PRIVATE KEY', pkcs8(EC_P256, sec1(A3_KEY, {}))))).privateJwk, A3_KEY);
});

test('pem: a P-384 SEC1 key without its public point gets it derived', async () => {
  const jwk = (await generateKey('ec384')).privateJwk as EcPrivateJwk;
  const key = await importKey(pem('EC PRIVATE KEY', sec1(jwk, {})));
  assertEquals(key.privateJwk, jwk);
  assertEquals(key.type, 'ec384');
});

test('pem: text around blocks, CRLF, and an "EC PARAMETERS" block before the key are tolerated', async () => {
  const text = `Key for www.example.org\r\n${pem('EC PARAMETERS', hexDecode(OID.p256))}${pem('EC PRIVATE KEY', sec1(A3_KEY, { curveOid: OID.p256, point: true }))}trailing words\r\n`;
  assertEquals((await importKey(text.replace(/\r?\n/g, '\r\n'))).privateJwk, A3_KEY);
});

test('pem: WebCrypto reads our PKCS#8, and we read WebCrypto\'s, for RSA and both curves', async () => {
  const cases = [
    { type: 'rsa2048', params: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } },
    { type: 'ec256', params: { name: 'ECDSA', namedCurve: 'P-256' } },
    { type: 'ec384', params: { name: 'ECDSA', namedCurve: 'P-384' } },
  ] as const;
  for (const { type, params } of cases) {
    const key = await generateKey(type);
    const imported = await crypto.subtle.importKey('pkcs8', pemDecode(exportPkcs8Pem(key)).der, params, true, ['sign']);
    const theirJwk = await crypto.subtle.exportKey('jwk', imported);
    assertEquals(theirJwk.d, key.privateJwk.d, `${type}: WebCrypto reads another d from our PKCS#8`);
    const theirPkcs8 = new Uint8Array(await crypto.subtle.exportKey('pkcs8', imported));
    assertEquals((await importKey(pem('PRIVATE KEY', theirPkcs8))).privateJwk, key.privateJwk, `${type}: we read WebCrypto's PKCS#8 differently`);
  }
});

test('pem: a private JWK as JSON text imports, extra members and whitespace allowed', async () => {
  const key = await importKey(`\n  ${JSON.stringify({ ...A3_KEY, kid: 'k', alg: 'ES256' }, null, 2)}\n`);
  assertEquals(key.privateJwk, A3_KEY);
  assertEquals((await importKey(JSON.stringify(A2_KEY))).type, 'rsa2048');
});

test('pem: every refusal names what it found', async () => {
  const use = '(use RSA 2048 to 4096 bits, or EC P-256 or P-384)';
  const rsa1024: typeof A2_KEY = { ...A2_KEY, n: base64UrlEncode(new Uint8Array(128).fill(0xc5)) };
  const cases: [string, ErrorConstructor | RangeErrorConstructor | TypeErrorConstructor | SyntaxErrorConstructor, string][] = [
    [pem('ENCRYPTED PRIVATE KEY', der(SEQUENCE)), TypeError, 'Cannot import key: "ENCRYPTED PRIVATE KEY" is encrypted; decrypt it first ("openssl pkey -in FILE -out PLAIN")'],
    [pem('RSA PRIVATE KEY', pkcs1(A2_KEY)).replace('-----\n', '-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,00112233445566778899AABBCCDDEEFF\n\n'), TypeError, 'Cannot import key: "RSA PRIVATE KEY" with "Proc-Type: 4,ENCRYPTED" is encrypted'],
    [pem('PRIVATE KEY', pkcs8(der(SEQUENCE, OID.ed25519), der(OCTET_STRING, new Uint8Array(32)))), RangeError, `Unsupported key: Ed25519 ${use}`],
    [pem('PRIVATE KEY', pkcs8(der(SEQUENCE, '06032b6571'), der(OCTET_STRING, new Uint8Array(57)))), RangeError, `Unsupported key: Ed448 ${use}`],
    [pem('EC PRIVATE KEY', der(SEQUENCE, small(1), der(OCTET_STRING, new Uint8Array(66).fill(1)), der(0xa0, OID.p521))), RangeError, `Unsupported key: EC P-521 ${use}`],
    [pem('PRIVATE KEY', pkcs8(der(SEQUENCE, OID.ecPublicKey, OID.p521), der(SEQUENCE, small(1), der(OCTET_STRING, new Uint8Array(66))))), RangeError, `Unsupported key: EC P-521 ${use}`],
    [pem('EC PRIVATE KEY', der(SEQUENCE, small(1), der(OCTET_STRING, new Uint8Array(32).fill(1)), der(0xa0, der(SEQUENCE, small(1))))), RangeError, 'Unsupported key: EC with explicit curve parameters (rewrite it with "openssl ec -param_enc named_curve")'],
    [pem('PRIVATE KEY', pkcs8(der(SEQUENCE, OID_DSA, der(SEQUENCE, small(1), small(1), small(1))), small(1))), RangeError, `Unsupported key: DSA ${use}`],
    [pem('DSA PRIVATE KEY', der(SEQUENCE, small(0))), RangeError, `Unsupported key: DSA ${use}`],
    [pem('RSA PRIVATE KEY', pkcs1(rsa1024)), RangeError, `Unsupported key: RSA 1024 bits ${use}`],
    [pem('RSA PRIVATE KEY', pkcs1(A2_KEY, 1)), RangeError, 'Unsupported key: RSA with more than two primes'],
    [pem('PUBLIC KEY', hexDecode(A3_SPKI_HEX)), TypeError, 'Cannot import key: found a public key ("PUBLIC KEY"), expected a private key'],
    [pem('CERTIFICATE', der(SEQUENCE)) + pem('CERTIFICATE', der(SEQUENCE)), TypeError, 'Cannot import key: found a certificate ("CERTIFICATE"), expected a private key'],
    [pem('CERTIFICATE REQUEST', der(SEQUENCE)), TypeError, 'Cannot import key: found a certificate request ("CERTIFICATE REQUEST"), expected a private key'],
    [pem('EC PARAMETERS', hexDecode(OID.p256)), TypeError, 'Cannot import key: found EC parameters only ("EC PARAMETERS"), expected a private key'],
    [pem('OPENSSH PRIVATE KEY', der(SEQUENCE)), TypeError, 'Cannot import key: found an OpenSSH private key ("OPENSSH PRIVATE KEY"); rewrite it as PKCS#8 with "ssh-keygen -p -m PKCS8 -f FILE"'],
    [pem('SOMETHING ELSE', der(SEQUENCE)), TypeError, 'Cannot import key: found PEM "SOMETHING ELSE", expected a private key'],
    [pem('PRIVATE KEY', new Uint8Array([0x30, 0x05, 0x02])), SyntaxError, 'Cannot parse PKCS#8 private key: not DER'],
    [pem('PRIVATE KEY', pkcs8(EC_P256, sec1(A3_KEY, { curveOid: '06052b81040022' }))), SyntaxError, 'Cannot parse EC private key: the key says P-384 but its algorithm says P-256'],
    [pem('EC PRIVATE KEY', der(SEQUENCE, small(1), der(OCTET_STRING, new Uint8Array(66).fill(1)))), SyntaxError, 'Cannot parse EC private key: it names no curve, and a 66-byte key fits neither P-256 nor P-384'],
    [pem('EC PRIVATE KEY', der(SEQUENCE, small(1), der(OCTET_STRING, new Uint8Array(32)), der(0xa0, OID.p256))), SyntaxError, 'Cannot parse EC private key: the P-256 scalar is not in [1, n-1]'],
    [pem('RSA PRIVATE KEY', der(SEQUENCE, small(0), small(1))), SyntaxError, 'Cannot parse RSA private key: 2 elements, expected at least 9'],
    ['-----BEGIN PRIVATE KEY-----\nMIIB\n', SyntaxError, 'Cannot parse PEM: a "-----BEGIN" line has no matching "-----END" line'],
    ['just some words', SyntaxError, 'Cannot import key: found neither a PEM block nor a JSON Web Key'],
    ['  \n', SyntaxError, 'Cannot import key: the text is empty'],
    ['{"kty": "EC",', SyntaxError, 'Cannot import key: the text starts like JSON but does not parse'],
    ['{"keys": []}', TypeError, 'Cannot import key: found a JWK set, expected one private JWK'],
    [JSON.stringify(A3_PUBLIC), TypeError, 'Cannot import key: found a public EC JWK, expected a private key'],
    ['{"n": "AQAB"}', TypeError, 'Cannot import key: the JSON has no "kty", so it is not a JWK'],
    ['{"kty": "OKP", "crv": "Ed25519", "x": "AA", "d": "AA"}', RangeError, `Unsupported key: Ed25519 ${use}`],
    ['{"kty": "EC", "crv": "P-521", "x": "AA", "y": "AA", "d": "AA"}', RangeError, `Unsupported key: EC P-521 ${use}`],
  ];
  for (const [text, errorClass, message] of cases) await assertRejects(() => importKey(text), errorClass, message);
  await assertRejects(() => importKey(42 as unknown as string), TypeError, 'Cannot import key: expected text, got number');
});

test('pem: keys generated by every engine round-trip through PKCS#8', async () => {
  const { noble, nodeRsa } = await allEngines();
  const jwks: PrivateJwk[] = [await noble.generateKey('ec256'), await noble.generateKey('ec384')];
  for (const jwk of jwks) assertEquals((await importKey(exportPkcs8Pem(await keyFromJwk(jwk)))).privateJwk, jwk);
  // The round trip drops leading zero bytes, so equality also shows node-rsa's JWK members carry none (RFC 7518 §6.3).
  const rsa = await nodeRsa.generateKey('rsa2048');
  assertEquals((await importKey(exportPkcs8Pem(await keyFromJwk(rsa)))).privateJwk, rsa);
});
