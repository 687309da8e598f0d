// TSIG (RFC 8945) against messages that BIND's own tools signed and answered, RFC 2136 update messages, and BIND's
// key-file format as tsig-keygen and ddns-confgen write it.
import { assert, assertEquals, assertRejects, assertThrows, test } from '../_harness.ts';
import { buildUpdate, readAnswer, signMessage, txtValues, verifyAnswer } from '../../core/dns-message.ts';
import { hexDecode, hexEncode } from '../../core/encoding.ts';
import { parseTsigKey } from '../../core/tsig-key.ts';

const SECRET = 'c2VjcmV0IGZvciB0aGUgdGVzdHMsIG5vdCBmb3IgdXNl'; // "secret for the tests, not for use"
const keyFile = (algorithm: string) => `key "acme-key" {\n\talgorithm ${algorithm};\n\tsecret "${SECRET}";\n};\n`;

// `dig +noedns +nocookie -y ALGORITHM:acme-key:SECRET example.test SOA`, as it went out on the wire: the query,
// then its TSIG record signed at 0x6b15f98b (2026-12-07). The first 30 bytes with ARCOUNT 0 are the unsigned query.
const DIG_VECTORS: Record<string, string> = {
  'hmac-sha256': '3af601200001000000000001076578616d706c65047465737400000600010861636d652d6b65790000fa00ff00000000003d0b686d61632d7368'
    + '613235360000006b15f98b012c0020fc418900f43adea79c838a646d4e1bdd1a12abdc4a42251e400473b5a95a39933af600000000',
  'hmac-sha512': '1cfd01200001000000000001076578616d706c65047465737400000600010861636d652d6b65790000fa00ff00000000005d0b686d61632d7368'
    + '613531320000006b15f98b012c004009ba8964d0002ff1785f55a512e05741c58a68e8a155001e39116568cd52e7f678da6e094952673311693ef3'
    + '53f6e791313fd50bc84c22216c2bf2539a9a014b1cfd00000000',
};
const DIG_SIGNED_AT = 0x6b15f98b * 1000;

for (const [algorithm, signedHex] of Object.entries(DIG_VECTORS)) {
  test(`TSIG ${algorithm}: signing dig's query at dig's time gives dig's bytes`, async () => {
    const unsigned = hexDecode(signedHex).slice(0, 30);
    unsigned[11] = 0; // ARCOUNT without the TSIG record
    const signed = await signMessage(unsigned, parseTsigKey(keyFile(algorithm)), DIG_SIGNED_AT);
    assertEquals(hexEncode(signed.message), signedHex);
  });
}

// An update that signMessage signed at BIND_NOW, and BIND 9.18's signed NOERROR answer to it.
const BIND_NOW = 1796602292673;
const BIND_REQUEST = {
  message: hexDecode('cacf28000001000000010001076578616d706c65047465737400000600010f5f61636d652d6368616c6c656e6765076578616d706c650474657374'
    + '00001000010000003c000706766563746f720861636d652d6b65790000fa00ff00000000003d0b686d61632d7368613235360000006b15f9b4012c00'
    + '206b1dec91b9db35159a0289f0d9424d6b746477d20f8ea265cd3dc1bf217ab084cacf00000000'),
  mac: hexDecode('6b1dec91b9db35159a0289f0d9424d6b746477d20f8ea265cd3dc1bf217ab084'),
};
const BIND_ANSWER = hexDecode('cacfa8000001000000000001076578616d706c65047465737400000600010861636d652d6b65790000fa00ff00000000003d0b686d61632d7368'
  + '613235360000006b15f9b7012c00207973eb37baa60f410032becc85fab1f05c3edf2d011acf055cb2c6e8e52bd04fcacf00000000');

test('TSIG: BIND\'s signed answer verifies over the request\'s MAC (RFC 8945 §5.3.1)', async () => {
  const key = parseTsigKey(keyFile('hmac-sha256'));
  assertEquals(await verifyAnswer(BIND_ANSWER, key, BIND_REQUEST, BIND_NOW), undefined);
  assertEquals(readAnswer(BIND_ANSWER).rcode, 'NOERROR');
});

test('TSIG: a changed answer, another request or a time past the fudge does not verify', async () => {
  const key = parseTsigKey(keyFile('hmac-sha256'));
  const changed = BIND_ANSWER.slice();
  changed[3] = 0x05; // REFUSED instead of NOERROR
  await assertRejects(() => verifyAnswer(changed, key, BIND_REQUEST, BIND_NOW), Error, 'does not verify');
  await assertRejects(() => verifyAnswer(BIND_ANSWER, key, { ...BIND_REQUEST, mac: new Uint8Array(32) }, BIND_NOW), Error, 'does not verify');
  await assertRejects(() => verifyAnswer(BIND_ANSWER, key, BIND_REQUEST, BIND_NOW + 301_000 + 3000), Error, 'outside the fudge of 300 s');
  await assertRejects(() => verifyAnswer(BIND_ANSWER.slice(0, 30).fill(0, 10, 12), key, BIND_REQUEST, BIND_NOW), Error, 'not signed');
});

test('TSIG: an error in the answer\'s TSIG record is named, unsigned as the server sends it', async () => {
  const key = parseTsigKey(keyFile('hmac-sha256'));
  // BIND's answer to BIND_REQUEST when it holds another secret for acme-key: NOTAUTH, and a TSIG record with no MAC and error 16.
  const badsig = hexDecode('cacfa8090001000000000001076578616d706c65047465737400000600010861636d652d6b65790000fa00ff00000000001d0b686d61632d73686132'
    + '35360000006b15f9db012c0000cacf00100000');
  assertEquals(readAnswer(badsig).rcode, 'NOTAUTH');
  assertEquals(await verifyAnswer(badsig, key, BIND_REQUEST, BIND_NOW), 'BADSIG');
});

test('RFC 2136: an add carries class IN and the TTL; a delete, class NONE and TTL 0 with the value (§2.5.1, §2.5.4)', () => {
  const add = buildUpdate('example.test', { action: 'add', name: '_acme-challenge.example.test', value: 'token', ttl: 60 });
  const remove = buildUpdate('example.test', { action: 'delete', name: '_acme-challenge.example.test', value: 'token', ttl: 60 });
  assertEquals(add[2]! >> 3, 5, 'opcode UPDATE');
  // Header 12, zone section 14 + 4, then the record's name (30), type (2): class and TTL follow.
  const fields = (message: Uint8Array) => hexEncode(message.slice(12 + 18 + 30 + 2, 12 + 18 + 30 + 2 + 6));
  assertEquals(fields(add), '00010000003c');
  assertEquals(fields(remove), '00fe00000000');
  assertEquals(hexEncode(remove.slice(-8)), '0006' + '05' + hexEncode(new TextEncoder().encode('token')));
  assertEquals(txtValues(readAnswer(add).authorities, '_ACME-challenge.example.test.'), ['token']);
});

test('BIND key files: tsig-keygen\'s, and ddns-confgen\'s with its comments', () => {
  const key = parseTsigKey(keyFile('hmac-sha512'));
  assertEquals(key.name, 'acme-key');
  assertEquals(key.algorithm, 'hmac-sha512');
  assertEquals(new TextDecoder().decode(key.secret), 'secret for the tests, not for use');
  const confgen = `# To activate this key, place the following in named.conf, and\n# in a separate keyfile on the system or systems from which nsupdate\n`
    + `key "ddns-key.example.test" {\n\talgorithm hmac-sha256;\n\tsecret "ab//cd+/ZmFrZQ==";\n}; // and a comment\n/* update-policy {\n\tgrant x; }; */\n`;
  const parsed = parseTsigKey(confgen);
  assertEquals(parsed.name, 'ddns-key.example.test');
  assertEquals(parsed.secret.length, 10);
});

test('BIND key files: each fault is named', () => {
  const dnssecPrivate = 'Private-key-format: v1.3\nAlgorithm: 165 (HMAC_SHA256)\nKey: c2VjcmV0\nBits: AAA=\n';
  assertThrows(() => parseTsigKey(dnssecPrivate), SyntaxError, 'no key "NAME" { algorithm hmac-sha256; secret "BASE64"; }; block');
  assertThrows(() => parseTsigKey(keyFile('hmac-md5')), RangeError, 'key "acme-key" uses hmac-md5; use hmac-sha256 or hmac-sha512');
  assertThrows(() => parseTsigKey('key k { secret "c2VjcmV0"; };'), SyntaxError, 'key "k" has no "algorithm NAME;" line');
  assertThrows(() => parseTsigKey('key k { algorithm hmac-sha256; };'), SyntaxError, 'key "k" has no secret');
  assertThrows(() => parseTsigKey('key k { algorithm hmac-sha256; secret "not base64!"; };'), SyntaxError, 'the secret of key "k" is not base64');
  assertThrows(() => parseTsigKey(keyFile('hmac-sha256') + keyFile('hmac-sha256')), RangeError, 'it holds 2 keys');
  assert(parseTsigKey('key "K." { algorithm HMAC-SHA256.; secret "c2VjcmV0"; };').name === 'k');
});
