// JWS: the RFC 7515 appendix vectors in every engine that can run them, ACME's flattened JWS and external account
// binding, and the RFC 8555 §8.1 key authorization and §8.4 dns-01 TXT value.
import { assert, assertEquals, assertRejects, test } from '../_harness.ts';
import { allEngines } from './_engines.ts';
import { base64UrlDecode, base64UrlEncode, utf8Decode, utf8Encode } from '../../core/encoding.ts';
import { A2_KEY, A3_KEY, RFC7638_KEY, RFC7638_THUMBPRINT } from './_vectors.ts';
import type { AcmeKey } from '../../core/keys.ts';
import { generateKey, keyFromJwk, sign } from '../../core/keys.ts';
import { dns01TxtValue, keyAuthorization, signExternalAccountBinding, signJws } from '../../core/jws.ts';

// RFC 7515 A.1-A.3 share this payload; the examples' JSON holds CRLFs, so the encoded form is taken verbatim.
const PAYLOAD = 'eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ';

// RFC 7515 A.1: HS256.
const A1_KEY = 'AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow';
const A1_INPUT = `eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.${PAYLOAD}`;
const A1_SIGNATURE = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk';

// RFC 7515 A.2: RS256 with the key of A.2.1.
const A2_INPUT = `eyJhbGciOiJSUzI1NiJ9.${PAYLOAD}`;
const A2_SIGNATURE =
  'cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw';

// RFC 7515 A.3: ES256 with the key of A.3.1. ECDSA is randomised, so its signature can only be verified;
// it also has a high s, which WebCrypto accepts, so every engine must.
const A3_INPUT = `eyJhbGciOiJFUzI1NiJ9.${PAYLOAD}`;
const A3_SIGNATURE = 'DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q';

test('jws: RFC 7515 A.1 HS256 in every engine', async () => {
  for (const engine of Object.values(await allEngines())) {
    assertEquals(base64UrlEncode(await engine.hmac('SHA-256', base64UrlDecode(A1_KEY), utf8Encode(A1_INPUT))), A1_SIGNATURE, engine.name);
  }
});

test('jws: RFC 7515 A.2 RS256 signature equals the published one (WebCrypto, node-rsa)', async () => {
  const { webcrypto, nodeRsa } = await allEngines();
  for (const engine of [webcrypto, nodeRsa]) {
    const key = await keyFromJwk(A2_KEY, { engine });
    assertEquals(base64UrlEncode(await sign(key, utf8Encode(A2_INPUT))), A2_SIGNATURE, engine.name);
    assert(await engine.verify('RS256', key.publicJwk, utf8Encode(A2_INPUT), base64UrlDecode(A2_SIGNATURE)), `${engine.name} rejects A.2`);
  }
});

test('jws: RFC 7515 A.3 ES256 published signature verifies, and ours verifies with the published key (WebCrypto, noble)', async () => {
  const { webcrypto, noble } = await allEngines();
  for (const engine of [webcrypto, noble]) {
    const key = await keyFromJwk(A3_KEY, { engine });
    assert(await engine.verify('ES256', key.publicJwk, utf8Encode(A3_INPUT), base64UrlDecode(A3_SIGNATURE)), `${engine.name} rejects A.3`);
    const ours = await sign(key, utf8Encode(A3_INPUT));
    assertEquals(ours.length, 64, `${engine.name}: r||s of 32 bytes each (RFC 7518 §3.4)`);
    for (const verifier of [webcrypto, noble]) {
      assert(await verifier.verify('ES256', key.publicJwk, utf8Encode(A3_INPUT), ours), `${verifier.name} rejects ${engine.name}'s A.3 signature`);
    }
  }
});

test('jws: ES384 signatures are 96-byte r||s in every EC engine', async () => {
  const { webcrypto, noble } = await allEngines();
  const key = await generateKey('ec384', { engine: webcrypto });
  for (const engine of [webcrypto, noble]) assertEquals((await engine.sign('ES384', key.privateJwk, utf8Encode('x'))).length, 96, engine.name);
});

function decodeJson(part: string): Record<string, unknown> {
  return JSON.parse(utf8Decode(base64UrlDecode(part))) as Record<string, unknown>;
}

async function verifies(key: AcmeKey, jws: { protected: string; payload: string; signature: string }): Promise<boolean> {
  const { webcrypto } = await allEngines();
  return webcrypto.verify(key.algorithm, key.publicJwk, utf8Encode(`${jws.protected}.${jws.payload}`), base64UrlDecode(jws.signature));
}

test('jws: newAccount-style JWS carries jwk, nonce and url, and verifies (RFC 8555 §6.2)', async () => {
  for (const type of ['ec256', 'ec384', 'rsa2048'] as const) {
    const key = type === 'rsa2048' ? await keyFromJwk(A2_KEY) : await generateKey(type);
    const jws = await signJws(key, { termsOfServiceAgreed: true }, { url: 'https://ca.example/new-acct', nonce: 'n0nce' });
    assertEquals(decodeJson(jws.protected), { alg: key.algorithm, jwk: key.publicJwk, nonce: 'n0nce', url: 'https://ca.example/new-acct' } as Record<string, unknown>, type);
    assertEquals(decodeJson(jws.payload), { termsOfServiceAgreed: true } as Record<string, unknown>, type);
    assert(await verifies(key, jws), `${type}: the JWS does not verify`);
  }
});

test('jws: with kid the header has no jwk, and POST-as-GET has an empty payload (RFC 8555 §6.2, §6.3)', async () => {
  const key = await generateKey('ec256');
  const jws = await signJws(key, undefined, { url: 'https://ca.example/order/1', nonce: 'abc', kid: 'https://ca.example/acct/7' });
  assertEquals(decodeJson(jws.protected), { alg: 'ES256', kid: 'https://ca.example/acct/7', nonce: 'abc', url: 'https://ca.example/order/1' } as Record<string, unknown>);
  assertEquals(jws.payload, '');
  assert(await verifies(key, jws), 'the POST-as-GET JWS does not verify');
});

test('jws: external account binding is an HMAC over the account JWK with kid and url, no nonce (RFC 8555 §7.3.4)', async () => {
  const { webcrypto } = await allEngines();
  const account = await generateKey('ec256');
  const macKey = base64UrlDecode(A1_KEY);
  for (const [algorithm, hash] of [['HS256', 'SHA-256'], ['HS384', 'SHA-384'], ['HS512', 'SHA-512']] as const) {
    const eab = await signExternalAccountBinding({ kid: 'kid-1', hmacKey: A1_KEY, algorithm }, account.publicJwk, 'https://ca.example/new-acct');
    assertEquals(decodeJson(eab.protected), { alg: algorithm, kid: 'kid-1', url: 'https://ca.example/new-acct' } as Record<string, unknown>);
    assertEquals(decodeJson(eab.payload), account.publicJwk as unknown as Record<string, unknown>);
    const expected = await webcrypto.hmac(hash, macKey, utf8Encode(`${eab.protected}.${eab.payload}`));
    assertEquals(eab.signature, base64UrlEncode(expected), algorithm);
  }
  // CAs hand out keys with padding too; the padding carries no bits.
  const padded = await signExternalAccountBinding({ kid: 'kid-1', hmacKey: 'AAECAw==' }, account.publicJwk, 'https://ca.example/new-acct');
  const unpadded = await signExternalAccountBinding({ kid: 'kid-1', hmacKey: 'AAECAw' }, account.publicJwk, 'https://ca.example/new-acct');
  assertEquals(padded.signature, unpadded.signature);
});

test('jws: external account binding refuses an empty kid and a bad or empty MAC key', async () => {
  const account = await generateKey('ec256');
  const url = 'https://ca.example/new-acct';
  await assertRejects(() => signExternalAccountBinding({ kid: '', hmacKey: A1_KEY }, account.publicJwk, url), TypeError, 'Cannot bind external account: the key identifier is empty');
  await assertRejects(() => signExternalAccountBinding({ kid: 'k', hmacKey: 'not base64url!' }, account.publicJwk, url), TypeError, 'Cannot bind external account: the HMAC key is not base64url');
  await assertRejects(() => signExternalAccountBinding({ kid: 'k', hmacKey: '' }, account.publicJwk, url), TypeError, 'Cannot bind external account: the HMAC key is empty');
});

// RFC 8555 prints neither a whole account key nor a whole TXT value (§8.3 and §8.4 elide them). So the account key
// is RFC 7638 §3.1's, whose thumbprint that RFC publishes, and the token is RFC 8555 §8.3's. The TXT value was
// computed independently: printf '%s' KEYAUTH | openssl dgst -sha256 -binary | base64 | tr '+/' '-_' | tr -d '='.
const TOKEN = 'evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA';
const KEY_AUTHORIZATION = `${TOKEN}.${RFC7638_THUMBPRINT}`;
const DNS01_TXT = 'ZTRx1Ckl1-tM05o5zaizTTA0yUy5AGereMgSNWC6Ll8';

test('jws: RFC 8555 §8.1 key authorization and §8.4 dns-01 TXT value', async () => {
  for (const engine of Object.values(await allEngines())) {
    // keyAuthorization reads only the public half and the engine, and no private half of this key is published.
    const accountKey = { publicJwk: RFC7638_KEY, engine } as unknown as AcmeKey;
    assertEquals(await keyAuthorization(TOKEN, accountKey), KEY_AUTHORIZATION, engine.name);
  }
  assertEquals(await dns01TxtValue(KEY_AUTHORIZATION), DNS01_TXT);
});
