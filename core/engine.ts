// The crypto engine interface and the choice between engines (DESIGN.md "Crypto engines").
// Keys travel between engines as private JWKs, so any engine can sign with a key another one made.

export type KeyType = 'rsa2048' | 'rsa3072' | 'rsa4096' | 'ec256' | 'ec384';
export const KEY_TYPES: readonly KeyType[] = ['rsa2048', 'rsa3072', 'rsa4096', 'ec256', 'ec384'];

/** JWS algorithms for account and certificate keys (RFC 7518 §3.1); HS* serve external account binding only. */
export type SignatureAlgorithm = 'RS256' | 'ES256' | 'ES384';
export type HmacAlgorithm = 'HS256' | 'HS384' | 'HS512';
export type HashName = 'SHA-256' | 'SHA-384' | 'SHA-512';
export type EngineName = 'webcrypto' | 'noble' | 'node-rsa';

export interface RsaPublicJwk { kty: 'RSA'; n: string; e: string }
export interface RsaPrivateJwk extends RsaPublicJwk { d: string; p: string; q: string; dp: string; dq: string; qi: string }
export type EcCurve = 'P-256' | 'P-384';
export interface EcPublicJwk { kty: 'EC'; crv: EcCurve; x: string; y: string }
export interface EcPrivateJwk extends EcPublicJwk { d: string }
export type PublicJwk = RsaPublicJwk | EcPublicJwk;
export type PrivateJwk = RsaPrivateJwk | EcPrivateJwk;

export interface CryptoEngine {
  readonly name: EngineName;
  /** Which key families this engine can generate keys for and sign with. */
  readonly keyFamilies: readonly ('RSA' | 'EC')[];
  generateKey(type: KeyType): Promise<PrivateJwk>;
  /** ECDSA signatures come back as fixed-length r||s (RFC 7518 §3.4), RSA ones as RSASSA-PKCS1-v1_5. */
  sign(algorithm: SignatureAlgorithm, key: PrivateJwk, data: Uint8Array): Promise<Uint8Array<ArrayBuffer>>;
  verify(algorithm: SignatureAlgorithm, key: PublicJwk, data: Uint8Array, signature: Uint8Array): Promise<boolean>;
  digest(hash: HashName, data: Uint8Array): Promise<Uint8Array<ArrayBuffer>>;
  hmac(hash: HashName, key: Uint8Array, data: Uint8Array): Promise<Uint8Array<ArrayBuffer>>;
}

export function hasWebCrypto(): boolean {
  return typeof globalThis.crypto?.subtle?.importKey === 'function';
}

const loaded = new Map<EngineName, Promise<CryptoEngine>>();

/** Loads an engine by name; the fallbacks are dynamic imports so that a page with WebCrypto never downloads them. */
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
