// The EC fallback where crypto.subtle is missing (DESIGN.md "Crypto engines"): ECDSA P-256/P-384 with
// @noble/curves, SHA-2 and HMAC with @noble/hashes. Its randomness is crypto.getRandomValues.

import { p256, p384 } from '@noble/curves/nist.js';
import type { CryptoEngine, EcCurve, EcPrivateJwk, EcPublicJwk, SignatureAlgorithm } from './engine.ts';
import { checkKeyFits, curveOf } from './engine.ts';
import { nobleDigest, nobleHmac } from './_hashes.ts';
import { base64UrlDecode, base64UrlEncode } from './encoding.ts';
import { ecPointOfJwk, ecPublicJwkFromPoint } from './spki.ts';

const CURVES = { 'P-256': p256, 'P-384': p384 } as const;

function curveFor(algorithm: SignatureAlgorithm, jwk: EcPublicJwk): (typeof CURVES)[EcCurve] {
  checkKeyFits(algorithm, jwk);
  return CURVES[jwk.crv];
}

/** The public JWK of a private scalar: what SEC1 keys without their public point need (RFC 5915 §3). */
export function ecPublicJwkFromPrivate(crv: EcCurve, d: Uint8Array): EcPublicJwk {
  if (!CURVES[crv].utils.isValidSecretKey(d)) throw new SyntaxError(`Cannot parse EC private key: the ${crv} scalar is not in [1, n-1]`);
  return ecPublicJwkFromPoint(crv, CURVES[crv].getPublicKey(d, false), `${crv} private key`);
}

export const nobleEngine: CryptoEngine = {
  name: 'noble',
  keyFamilies: ['EC'],

  async generateKey(type) {
    if (type !== 'ec256' && type !== 'ec384') throw new RangeError(`Cannot generate a ${type} key: the noble engine has no RSA support`);
    const crv = curveOf(type);
    const d = CURVES[crv].utils.randomSecretKey();
    return { ...ecPublicJwkFromPrivate(crv, d), d: base64UrlEncode(d) };
  },

  // Both hash the message with the curve's own SHA-2 (prehash), which is ES256's SHA-256 and ES384's SHA-384.
  async sign(algorithm, key, data) {
    const curve = curveFor(algorithm, key as EcPrivateJwk);
    // Low-S signatures are valid ECDSA for every verifier; nonces are RFC 6979 deterministic.
    return new Uint8Array(curve.sign(data, base64UrlDecode((key as EcPrivateJwk).d), { format: 'compact' }));
  },

  async verify(algorithm, key, data, signature) {
    const curve = curveFor(algorithm, key as EcPublicJwk);
    const point = ecPointOfJwk(key as EcPublicJwk);
    // RFC 7518 §3.4: exactly r||s, each as long as a coordinate; anything else is a bad signature, not an error.
    if (signature.length !== point.length - 1) return false;
    // WebCrypto does not normalise s, so high-S signatures from other engines must verify too.
    return curve.verify(signature, data, point, { format: 'compact', lowS: false });
  },

  digest: nobleDigest,
  hmac: nobleHmac,
};
