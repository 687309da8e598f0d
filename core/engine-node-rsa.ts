// RSA where crypto.subtle is missing (DESIGN.md "Crypto engines"): the node-rsa 2 browser build, loaded lazily,
// accepted only when its randomness comes from crypto.getRandomValues. SHA-2 and HMAC come from @noble/hashes.

import type NodeRSA from 'node-rsa';
import type { CryptoEngine, RsaPrivateJwk, RsaPublicJwk } from './engine.ts';
import { checkKeyFits, keyFamily, rsaBitsOf } from './engine.ts';
import { nobleDigest, nobleHmac } from './_hashes.ts';
import { base64UrlDecode, base64UrlEncode, withoutLeadingZeros } from './encoding.ts';

export interface NodeRsaModule {
  default: typeof NodeRSA;
}

type Rsa = InstanceType<typeof NodeRSA>;

/** JWK integers carry no leading zeros (RFC 7518 §6.3); node-rsa's carry a sign byte. */
function unsigned(bytes: Uint8Array): string {
  return base64UrlEncode(withoutLeadingZeros(bytes));
}

function exponentBytes(e: Uint8Array | number): Uint8Array {
  if (typeof e !== 'number') return e;
  const bytes: number[] = [];
  for (let rest = e; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256);
  return new Uint8Array(bytes);
}

/**
 * The browser build's "web" backend draws every random byte with crypto.getRandomValues (node-rsa 2.0.0,
 * dist/index.browser.js, `webBackend.randomBytes`); the Node build's "node" backend uses node:crypto instead,
 * which a web-standard core cannot vouch for. Bundlers pick the browser build through the "browser" condition.
 */
function refuseUnlessWebRandom(rsa: Rsa): void {
  const backend = (rsa.keyPair as { backend?: { name?: string } }).backend?.name;
  if (backend !== 'web' || typeof globalThis.crypto?.getRandomValues !== 'function') {
    throw new Error(
      `Cannot use RSA without WebCrypto: node-rsa's randomness here is not crypto.getRandomValues (backend ${JSON.stringify(backend)}); use an EC key (ec256 or ec384) instead`,
    );
  }
}

/** `load` lets a runtime that would resolve node-rsa's Node build hand in the browser build instead. */
export async function loadNodeRsaEngine(load: () => Promise<NodeRsaModule> = () => import('node-rsa')): Promise<CryptoEngine> {
  const { default: NodeRsa } = await load();
  const create = (): Rsa => new NodeRsa(undefined, { signingScheme: 'pkcs1-sha256' });
  refuseUnlessWebRandom(create());

  // Rebuilding node-rsa's key objects costs more than a signature, and one account key signs many requests.
  const privateKeys = new WeakMap<object, Rsa>();
  const privateKeyOf = (jwk: RsaPrivateJwk): Rsa => {
    let rsa = privateKeys.get(jwk);
    if (!rsa) {
      const [n, e, d, p, q, dmp1, dmq1, coeff] = [jwk.n, jwk.e, jwk.d, jwk.p, jwk.q, jwk.dp, jwk.dq, jwk.qi].map(base64UrlDecode);
      rsa = create().importKey({ n: n!, e: e!, d: d!, p: p!, q: q!, dmp1: dmp1!, dmq1: dmq1!, coeff: coeff! }, 'components');
      privateKeys.set(jwk, rsa);
    }
    return rsa;
  };

  return {
    name: 'node-rsa',
    keyFamilies: ['RSA'],

    async generateKey(type) {
      if (keyFamily(type) !== 'RSA') throw new RangeError(`Cannot generate a ${type} key: the node-rsa engine has no EC support`);
      const parts = create().generateKeyPair(rsaBitsOf(type as 'rsa2048'), 65537).exportKey('components');
      return {
        kty: 'RSA',
        n: unsigned(parts.n),
        e: unsigned(exponentBytes(parts.e)),
        d: unsigned(parts.d),
        p: unsigned(parts.p),
        q: unsigned(parts.q),
        dp: unsigned(parts.dmp1),
        dq: unsigned(parts.dmq1),
        qi: unsigned(parts.coeff),
      };
    },

    async sign(algorithm, key, data) {
      checkKeyFits(algorithm, key);
      return new Uint8Array(privateKeyOf(key as RsaPrivateJwk).sign(data));
    },

    async verify(algorithm, key, data, signature) {
      checkKeyFits(algorithm, key);
      const n = base64UrlDecode((key as RsaPublicJwk).n);
      // RFC 8017 §8.2.2 step 1: a signature is exactly as long as the modulus.
      if (signature.length !== n.length - (n[0] === 0 ? 1 : 0)) return false;
      const rsa = create().importKey({ n, e: base64UrlDecode((key as RsaPublicJwk).e) }, 'components-public');
      return rsa.verify(data, signature);
    },

    digest: nobleDigest,
    hmac: nobleHmac,
  };
}
