// The primary engine: WebCrypto, native in Node, Deno and browsers (fastest everywhere, DESIGN.md).

import type { CryptoEngine, HashName, KeyType, PrivateJwk, PublicJwk, SignatureAlgorithm } from './engine.ts';
import { checkHmacKey, checkKeyFits, curveOf, keyFamily, rsaBitsOf } from './engine.ts';

const SIGNATURE_PARAMS: Record<SignatureAlgorithm, { import: RsaHashedImportParams | EcKeyImportParams; sign: AlgorithmIdentifier | EcdsaParams }> = {
  RS256: { import: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, sign: { name: 'RSASSA-PKCS1-v1_5' } },
  ES256: { import: { name: 'ECDSA', namedCurve: 'P-256' }, sign: { name: 'ECDSA', hash: 'SHA-256' } as EcdsaParams },
  ES384: { import: { name: 'ECDSA', namedCurve: 'P-384' }, sign: { name: 'ECDSA', hash: 'SHA-384' } as EcdsaParams },
};

function importJwk(algorithm: SignatureAlgorithm, jwk: PrivateJwk | PublicJwk, usage: 'sign' | 'verify'): Promise<CryptoKey> {
  const { kty, n, e, d, p, q, dp, dq, qi, crv, x, y } = jwk as unknown as Partial<Record<string, string>>;
  const clean = Object.fromEntries(Object.entries({ kty, n, e, d, p, q, dp, dq, qi, crv, x, y }).filter(([, v]) => v !== undefined));
  return crypto.subtle.importKey('jwk', clean as JsonWebKey, SIGNATURE_PARAMS[algorithm].import, false, [usage]);
}

// Importing a JWK costs more than an ES256 signature, and an issuance signs a dozen times with one account key.
// Only signing keys are kept: a verify key of the same JWK object would be a different CryptoKey.
const signingKeys = new WeakMap<PrivateJwk, Promise<CryptoKey>>();

export const webCryptoEngine: CryptoEngine = {
  name: 'webcrypto',
  keyFamilies: ['RSA', 'EC'],

  async generateKey(type: KeyType): Promise<PrivateJwk> {
    const params: RsaHashedKeyGenParams | EcKeyGenParams =
      keyFamily(type) === 'RSA'
        ? { name: 'RSASSA-PKCS1-v1_5', modulusLength: rsaBitsOf(type as 'rsa2048'), publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' }
        : { name: 'ECDSA', namedCurve: curveOf(type as 'ec256') };
    const pair = (await crypto.subtle.generateKey(params, true, ['sign', 'verify'])) as CryptoKeyPair;
    const { kty, n, e, d, p, q, dp, dq, qi, crv, x, y } = await crypto.subtle.exportKey('jwk', pair.privateKey);
    const fields = kty === 'RSA' ? { kty, n, e, d, p, q, dp, dq, qi } : { kty, crv, x, y, d };
    return fields as PrivateJwk;
  },

  async sign(algorithm, key, data) {
    checkKeyFits(algorithm, key);
    let cryptoKey = signingKeys.get(key);
    if (!cryptoKey) signingKeys.set(key, (cryptoKey = importJwk(algorithm, key, 'sign')));
    return new Uint8Array(await crypto.subtle.sign(SIGNATURE_PARAMS[algorithm].sign, await cryptoKey, data as Uint8Array<ArrayBuffer>));
  },

  async verify(algorithm, key, data, signature) {
    checkKeyFits(algorithm, key);
    const cryptoKey = await importJwk(algorithm, key, 'verify');
    return crypto.subtle.verify(SIGNATURE_PARAMS[algorithm].sign, cryptoKey, signature as Uint8Array<ArrayBuffer>, data as Uint8Array<ArrayBuffer>);
  },

  async digest(hash: HashName, data) {
    return new Uint8Array(await crypto.subtle.digest(hash, data as Uint8Array<ArrayBuffer>));
  },

  async hmac(hash: HashName, key, data) {
    checkHmacKey(key);
    const cryptoKey = await crypto.subtle.importKey('raw', key as Uint8Array<ArrayBuffer>, { name: 'HMAC', hash }, false, ['sign']);
    return new Uint8Array(await crypto.subtle.sign('HMAC', cryptoKey, data as Uint8Array<ArrayBuffer>));
  },
};
