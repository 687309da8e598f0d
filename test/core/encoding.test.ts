import { assertEquals, assertThrows, test } from '../_harness.ts';
import { base64UrlDecode, base64UrlEncode, hexDecode, hexEncode, isBase64Url, pemDecode, pemDecodeAll, pemEncode, utf8Encode } from '../../core/encoding.ts';

// RFC 4648 §10 vectors, in the URL-safe alphabet without padding.
const BASE64URL_VECTORS: [string, string][] = [
  ['', ''], ['f', 'Zg'], ['fo', 'Zm8'], ['foo', 'Zm9v'], ['foob', 'Zm9vYg'], ['fooba', 'Zm9vYmE'], ['foobar', 'Zm9vYmFy'],
];

for (const [plain, encoded] of BASE64URL_VECTORS) {
  test(`base64url RFC 4648 vector ${JSON.stringify(plain)}`, () => {
    assertEquals(base64UrlEncode(plain), encoded);
    assertEquals(base64UrlDecode(encoded), utf8Encode(plain));
  });
}

test('base64url uses - and _ where base64 has + and /', () => {
  assertEquals(base64UrlEncode(new Uint8Array([0xfb, 0xff, 0xbf])), '-_-_');
  assertEquals(base64UrlDecode('-_-_'), new Uint8Array([0xfb, 0xff, 0xbf]));
});

test('base64url refuses padding and the standard alphabet', () => {
  assertThrows(() => base64UrlDecode('Zg=='), SyntaxError, 'invalid character "="');
  assertThrows(() => base64UrlDecode('+/+/'), SyntaxError, 'invalid character "+"');
  assertThrows(() => base64UrlDecode('Z'), SyntaxError, 'length 1 is impossible');
  assertEquals(isBase64Url('abc-_x'), true);
  assertEquals(isBase64Url('../etc/passwd'), false);
  assertEquals(isBase64Url(''), false);
});

test('hex round trip and refusal', () => {
  assertEquals(hexEncode(new Uint8Array([0, 15, 255])), '000fff');
  assertEquals(hexDecode('000FFF'), new Uint8Array([0, 15, 255]));
  assertThrows(() => hexDecode('abc'), SyntaxError, 'Cannot decode hex');
});

test('PEM round trip wraps at 64 columns', () => {
  const der = new Uint8Array(100).map((_, i) => i);
  const pem = pemEncode('CERTIFICATE', der);
  assertEquals(pem.split('\n')[1]!.length, 64);
  assertEquals(pemDecode(pem).der, der);
});

test('PEM chain with CRLF and text around blocks', () => {
  const a = pemEncode('CERTIFICATE', new Uint8Array([1, 2, 3]));
  const b = pemEncode('CERTIFICATE', new Uint8Array([4, 5]));
  const text = `subject=CN = a\r\n${a.replace(/\n/g, '\r\n')}issuer junk\n\n${b}trailing`;
  const blocks = pemDecodeAll(text);
  assertEquals(blocks.map((block) => block.der), [new Uint8Array([1, 2, 3]), new Uint8Array([4, 5])]);
});

test('PEM errors name what is wrong', () => {
  assertThrows(() => pemDecodeAll('hello'), SyntaxError, 'Cannot parse PEM: no "-----BEGIN" line');
  assertThrows(() => pemDecodeAll('-----BEGIN CERTIFICATE-----\nAAAA\n'), SyntaxError, 'no matching "-----END" line');
  assertThrows(() => pemDecode(pemEncode('CERTIFICATE', new Uint8Array([1])), ['PRIVATE KEY']), SyntaxError, 'expected "PRIVATE KEY", found "CERTIFICATE"');
});

test('PEM keeps RFC 1421 headers of legacy encrypted keys', () => {
  const text = '-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAAAA\n-----END RSA PRIVATE KEY-----\n';
  assertEquals(pemDecode(text).headers['Proc-Type'], '4,ENCRYPTED');
});
