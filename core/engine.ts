// The crypto engine interface and the choice between engines (DESIGN.md "Crypto engines").
// Keys travel between engines as private JWKs, so any engine can sign with a key another one made.

import type { KeyType } from './key-types.ts';

export { KEY_TYPES, type KeyType } from './key-types.ts';

/**
 * JWS algorithms for account and certificate keys (RFC 7518 §3.1); HS* serve external account binding only.
 *
 * @example
 * ```ts
 * import { algorithmOf } from "@acmets/acme-client";
 * console.log(algorithmOf("ec384")); // "ES384"
 * ```
 */
export type SignatureAlgorithm = 'RS256' | 'ES256' | 'ES384';

/**
 * The MAC algorithms of an external account binding (RFC 8555 §7.3.4), chosen by the HMAC key's CA.
 *
 * @example
 * ```ts
 * import { type HmacAlgorithm } from "@acmets/acme-client";
 * const algorithm: HmacAlgorithm = "HS256";
 * ```
 */
export type HmacAlgorithm = 'HS256' | 'HS384' | 'HS512';

/**
 * The digests an engine computes.
 *
 * @example
 * ```ts
 * import type { HashName } from "@acmets/acme-client";
 * const hash: HashName = "SHA-256";
 * ```
 */
export type HashName = 'SHA-256' | 'SHA-384' | 'SHA-512';

/**
 * The crypto engines: WebCrypto everywhere it exists, noble (EC) and node-rsa (RSA) as fallbacks.
 *
 * @example
 * ```ts
 * import type { EngineName } from "@acmets/acme-client";
 * const name: EngineName = "webcrypto";
 * ```
 */
export type EngineName = 'webcrypto' | 'noble' | 'node-rsa';

/**
 * An RSA public key as a JWK (RFC 7518 §6.3.1).
 *
 * @example
 * ```ts
 * import type { RsaPublicJwk } from "@acmets/acme-client";
 * const jwk: RsaPublicJwk = { kty: "RSA", n: "0vx7…", e: "AQAB" };
 * ```
 */
export interface RsaPublicJwk {
  /** Always "RSA". */
  kty: 'RSA';
  /** The modulus, base64url big-endian (RFC 7518 §6.3.1). */
  n: string;
  /** The public exponent, base64url big-endian. */
  e: string;
}

/**
 * An RSA private key as a JWK with its CRT parameters (RFC 7518 §6.3.2), the form keys travel in between engines.
 *
 * @example
 * ```ts
 * import { generateKey } from "@acmets/acme-client";
 * const { privateJwk } = await generateKey("rsa2048");
 * if (privateJwk.kty === "RSA") console.log(privateJwk.qi.length > 0);
 * ```
 */
export interface RsaPrivateJwk extends RsaPublicJwk {
  /** The private exponent and the CRT parameters (RFC 7518 §6.3.2), each base64url big-endian. */
  d: string;
  /** The first prime factor. */
  p: string;
  /** The second prime factor. */
  q: string;
  /** d mod (p − 1). */
  dp: string;
  /** d mod (q − 1). */
  dq: string;
  /** q⁻¹ mod p. */
  qi: string;
}

/**
 * The NIST curves ACME CAs accept.
 *
 * @example
 * ```ts
 * import type { EcCurve } from "@acmets/acme-client";
 * const curve: EcCurve = "P-256";
 * ```
 */
export type EcCurve = 'P-256' | 'P-384';

/**
 * An EC public key as a JWK (RFC 7518 §6.2.1).
 *
 * @example
 * ```ts
 * import type { EcPublicJwk } from "@acmets/acme-client";
 * const jwk: EcPublicJwk = { kty: "EC", crv: "P-256", x: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", y: "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0" };
 * ```
 */
export interface EcPublicJwk {
  /** Always "EC". */
  kty: 'EC';
  /** The curve. */
  crv: EcCurve;
  /** The point's coordinates, base64url, each as long as the curve's field (RFC 7518 §6.2.1). */
  x: string;
  /** The y coordinate. */
  y: string;
}

/**
 * An EC private key as a JWK (RFC 7518 §6.2.2).
 *
 * @example
 * ```ts
 * import { generateKey } from "@acmets/acme-client";
 * const { privateJwk } = await generateKey("ec256");
 * if (privateJwk.kty === "EC") console.log(privateJwk.crv); // "P-256"
 * ```
 */
export interface EcPrivateJwk extends EcPublicJwk {
  /** The private scalar, base64url, as long as the curve's order (RFC 7518 §6.2.2). */
  d: string;
}

/**
 * A public key as a JWK: what goes into a JWS header and an RFC 7638 thumbprint.
 *
 * @example
 * ```ts
 * import { generateKey, jwkThumbprint } from "@acmets/acme-client";
 * const { publicJwk } = await generateKey("ec256");
 * console.log(await jwkThumbprint(publicJwk));
 * ```
 */
export type PublicJwk = RsaPublicJwk | EcPublicJwk;

/**
 * A private key as a JWK: how keys travel between engines, and what `keyFromJwk` takes.
 *
 * @example
 * ```ts
 * import { generateKey, keyFromJwk } from "@acmets/acme-client";
 * const { privateJwk } = await generateKey("ec256");
 * const same = await keyFromJwk(privateJwk);
 * ```
 */
export type PrivateJwk = RsaPrivateJwk | EcPrivateJwk;

/**
 * Key generation, signatures, digests and MACs: WebCrypto, or a fallback where `crypto.subtle` is missing. Keys go in
 * and out as private JWKs.
 *
 * @example
 * ```ts
 * import { generateKey } from "@acmets/acme-client";
 * const key = await generateKey("ec256");
 * const signature = await key.engine.sign(key.algorithm, key.privateJwk, new TextEncoder().encode("data"));
 * console.log(await key.engine.verify(key.algorithm, key.publicJwk, new TextEncoder().encode("data"), signature)); // true
 * ```
 */
export interface CryptoEngine {
  /** Which engine this is. */
  readonly name: EngineName;
  /** Which key families this engine can generate keys for and sign with. */
  readonly keyFamilies: readonly ('RSA' | 'EC')[];
  /** A new key of `type`, as a private JWK. */
  generateKey(type: KeyType): Promise<PrivateJwk>;
  /** ECDSA signatures come back as fixed-length r||s (RFC 7518 §3.4), RSA ones as RSASSA-PKCS1-v1_5. */
  sign(algorithm: SignatureAlgorithm, key: PrivateJwk, data: Uint8Array): Promise<Uint8Array<ArrayBuffer>>;
  /** Whether `signature` (in the form sign() returns) is valid for `data` under the public key. */
  verify(algorithm: SignatureAlgorithm, key: PublicJwk, data: Uint8Array, signature: Uint8Array): Promise<boolean>;
  /** The hash of `data`. */
  digest(hash: HashName, data: Uint8Array): Promise<Uint8Array<ArrayBuffer>>;
  /** The HMAC of `data` under `key`. */
  hmac(hash: HashName, key: Uint8Array, data: Uint8Array): Promise<Uint8Array<ArrayBuffer>>;
}

export function hasWebCrypto(): boolean {
  return typeof globalThis.crypto?.subtle?.importKey === 'function';
}

const loaded = new Map<EngineName, Promise<CryptoEngine>>();

/**
 * Loads an engine by name; the fallbacks are dynamic imports so that a page with WebCrypto never downloads them.
 *
 * @example
 * ```ts
 * import { generateKey, loadEngine } from "@acmets/acme-client";
 * // EC keys without WebCrypto, e.g. to compare engines.
 * const key = await generateKey("ec256", { engine: await loadEngine("noble") });
 * ```
 */
export function loadEngine(name: EngineName): Promise<CryptoEngine> {
  let engine = loaded.get(name);
  if (!engine) {
    if (name === 'webcrypto') engine = import('./engine-webcrypto.ts').then((m) => m.webCryptoEngine);
    else if (name === 'noble') engine = import('./engine-noble.ts').then((m) => m.nobleEngine);
    else engine = import('./engine-node-rsa.ts').then((m) => m.loadNodeRsaEngine());
    loaded.set(name, engine);
    engine.catch(() => loaded.delete(name));
  }
  return engine;
}

/** WebCrypto wherever it exists; otherwise noble for EC and hashing, node-rsa for RSA. */
export function defaultEngine(family: 'RSA' | 'EC' = 'EC'): Promise<CryptoEngine> {
  if (hasWebCrypto()) return loadEngine('webcrypto');
  return loadEngine(family === 'RSA' ? 'node-rsa' : 'noble');
}

/** The same refusal from every engine; WebCrypto alone would throw an opaque DataError. */
export function checkHmacKey(key: Uint8Array): void {
  if (key.length === 0) throw new RangeError('Cannot compute HMAC: the key is empty');
}

/** The key a signature algorithm needs (RFC 7518 §3.1), checked before signing so a mismatch is named. */
export function checkKeyFits(algorithm: SignatureAlgorithm, jwk: PublicJwk): void {
  const needed = algorithm === 'RS256' ? 'RSA' : algorithm === 'ES256' ? 'EC P-256' : 'EC P-384';
  const found = jwk.kty === 'EC' ? `EC ${jwk.crv}` : jwk.kty;
  if (needed !== found) throw new TypeError(`Cannot use ${algorithm}: it needs an ${needed} key, not ${found}`);
}

export function keyFamily(type: KeyType): 'RSA' | 'EC' {
  return type.startsWith('rsa') ? 'RSA' : 'EC';
}

export function curveOf(type: 'ec256' | 'ec384'): EcCurve {
  return type === 'ec256' ? 'P-256' : 'P-384';
}

export function rsaBitsOf(type: 'rsa2048' | 'rsa3072' | 'rsa4096'): number {
  return Number(type.slice(3));
}
