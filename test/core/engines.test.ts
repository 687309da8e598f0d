// Every engine against published hash and HMAC vectors, and against each other: a signature one engine makes
// must verify under WebCrypto, and WebCrypto's under it (DESIGN.md "Crypto engines").
import { assert, assertEquals, assertRejects, test } from '../_harness.ts';
import { allEngines } from './_engines.ts';
import { hexEncode, utf8Encode } from '../../core/encoding.ts';
import type { CryptoEngine, HashName, KeyType, PrivateJwk, PublicJwk } from '../../core/engine.ts';
import { defaultEngine } from '../../core/engine.ts';
import type { NodeRsaModule } from '../../core/engine-node-rsa.ts';
import { loadNodeRsaEngine } from '../../core/engine-node-rsa.ts';
import { algorithmOf, generateKey, keyFromJwk } from '../../core/keys.ts';

// FIPS 180-2 appendix examples ("abc"), and RFC 4231 §4.3 test case 2; both confirmed with `openssl dgst`.
const DIGESTS: Record<HashName, string> = {
  'SHA-256': 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
  'SHA-384': 'cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7',
  'SHA-512': 'ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f',
};
const HMACS: Record<HashName, string> = {
  'SHA-256': '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
  'SHA-384': 'af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649',
  'SHA-512': '164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737',
};

function publicOf(jwk: PrivateJwk): PublicJwk {
  return jwk.kty === 'RSA' ? { kty: 'RSA', n: jwk.n, e: jwk.e } : { kty: 'EC', crv: jwk.crv, x: jwk.x, y: jwk.y };
}

test('engines: SHA-2 digests and HMACs match the published vectors in every engine', async () => {
  for (const engine of Object.values(await allEngines())) {
    for (const hash of Object.keys(DIGESTS) as HashName[]) {
      assertEquals(hexEncode(await engine.digest(hash, utf8Encode('abc'))), DIGESTS[hash], `${engine.name} ${hash}`);
      assertEquals(hexEncode(await engine.hmac(hash, utf8Encode('Jefe'), utf8Encode('what do ya want for nothing?'))), HMACS[hash], `${engine.name} HMAC ${hash}`);
    }
  }
});

test('engines: an empty HMAC key is refused the same way in every engine', async () => {
  for (const engine of Object.values(await allEngines())) {
    await assertRejects(() => engine.hmac('SHA-256', new Uint8Array(0), utf8Encode('x')), RangeError, 'Cannot compute HMAC: the key is empty');
  }
});

/** Signs with `signer` using a key `maker` generated; both WebCrypto and `signer` must accept the signature. */
async function crossCheck(maker: CryptoEngine, signer: CryptoEngine, type: KeyType, webcrypto: CryptoEngine): Promise<void> {
  const label = `${type} made by ${maker.name}, signed by ${signer.name}`;
  const jwk = await maker.generateKey(type);
  const key = await keyFromJwk(jwk, { engine: signer });
  assertEquals(key.type, type, label);
  const data = utf8Encode(`${label}: the data`);
  const signature = await signer.sign(key.algorithm, jwk, data);
  assert(await webcrypto.verify(key.algorithm, publicOf(jwk), data, signature), `${label}: WebCrypto rejects the signature`);
  assert(await signer.verify(key.algorithm, publicOf(jwk), data, signature), `${label}: ${signer.name} rejects its own signature`);
  const webSignature = await webcrypto.sign(key.algorithm, jwk, data);
  assert(await signer.verify(key.algorithm, publicOf(jwk), data, webSignature), `${label}: ${signer.name} rejects WebCrypto's signature`);
  assert(!(await signer.verify(key.algorithm, publicOf(jwk), utf8Encode('other data'), signature)), `${label}: verifies other data`);
  const tampered = signature.slice();
  tampered[5]! ^= 1;
  assert(!(await signer.verify(key.algorithm, publicOf(jwk), data, tampered)), `${label}: verifies a tampered signature`);
  assert(!(await signer.verify(key.algorithm, publicOf(jwk), data, signature.subarray(1))), `${label}: verifies a short signature`);
}

test('engines: noble EC keys and signatures interoperate with WebCrypto, both ways', async () => {
  const { webcrypto, noble } = await allEngines();
  for (const type of ['ec256', 'ec384'] as const) {
    await crossCheck(noble, noble, type, webcrypto);
    await crossCheck(webcrypto, noble, type, webcrypto);
  }
});

test('engines: a node-rsa RSA-2048 key and RS256 signatures interoperate with WebCrypto, both ways', async () => {
  const { webcrypto, nodeRsa } = await allEngines();
  await crossCheck(nodeRsa, nodeRsa, 'rsa2048', webcrypto);
  await crossCheck(webcrypto, nodeRsa, 'rsa2048', webcrypto);
});

test('engines: WebCrypto generates and signs with every key type but RSA-4096 (slow; the bench covers it)', async () => {
  const { webcrypto } = await allEngines();
  for (const type of ['rsa2048', 'rsa3072', 'ec256', 'ec384'] as const) await crossCheck(webcrypto, webcrypto, type, webcrypto);
});

test('engines: RS256 is deterministic, so node-rsa and WebCrypto produce the same bytes', async () => {
  const { webcrypto, nodeRsa } = await allEngines();
  const jwk = await webcrypto.generateKey('rsa2048');
  const data = utf8Encode('PKCS#1 v1.5 has no randomness');
  assertEquals(await nodeRsa.sign('RS256', jwk, data), await webcrypto.sign('RS256', jwk, data));
});

test('engines: each engine refuses the key family it lacks, and a key that does not fit the algorithm', async () => {
  const { webcrypto, noble, nodeRsa } = await allEngines();
  await assertRejects(() => noble.generateKey('rsa2048'), RangeError, 'Cannot generate a rsa2048 key: the noble engine has no RSA support');
  await assertRejects(() => nodeRsa.generateKey('ec256'), RangeError, 'Cannot generate a ec256 key: the node-rsa engine has no EC support');
  await assertRejects(() => generateKey('rsa2048', { engine: noble }), RangeError, 'Cannot generate a rsa2048 key: the noble engine has no RSA support');
  const ec384 = await webcrypto.generateKey('ec384');
  await assertRejects(() => keyFromJwk(ec384, { engine: nodeRsa }), RangeError, 'Cannot use a ec384 key: the node-rsa engine has no EC support');
  for (const engine of [webcrypto, noble]) {
    await assertRejects(() => engine.sign('ES256', ec384, utf8Encode('x')), TypeError, 'Cannot use ES256: it needs an EC P-256 key, not EC P-384');
    await assertRejects(() => engine.verify('RS256', publicOf(ec384), utf8Encode('x'), new Uint8Array(96)), TypeError, 'Cannot use RS256: it needs an RSA key, not EC P-384');
  }
  await assertRejects(() => nodeRsa.sign('RS256', ec384, utf8Encode('x')), TypeError, 'Cannot use RS256: it needs an RSA key, not EC P-384');
});

test('engines: node-rsa is refused, naming EC keys as the way, when its randomness is not crypto.getRandomValues', async () => {
  // A stand-in for node-rsa's Node build, whose backend draws from node:crypto.
  class NodeBuild {
    keyPair = { backend: { name: 'node' } };
  }
  await assertRejects(
    () => loadNodeRsaEngine(async () => ({ default: NodeBuild }) as unknown as NodeRsaModule),
    Error,
    `Cannot use RSA without WebCrypto: node-rsa's randomness here is not crypto.getRandomValues (backend "node"); use an EC key (ec256 or ec384) instead`,
  );
});

test('engines: WebCrypto is the default wherever crypto.subtle exists', async () => {
  assertEquals((await defaultEngine('RSA')).name, 'webcrypto');
  assertEquals((await defaultEngine('EC')).name, 'webcrypto');
  assertEquals(algorithmOf('ec384'), 'ES384');
});
