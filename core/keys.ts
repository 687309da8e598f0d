// Account and certificate keys: generation, the JWK forms, and the RFC 7638 thumbprint.
// A key is its private JWK plus the engine that signs with it; PEM import and export live in key-pem.ts.

import type { CryptoEngine, KeyType, PrivateJwk, PublicJwk, SignatureAlgorithm } from './engine.ts';
import { defaultEngine, keyFamily } from './engine.ts';
import { base64UrlDecode, base64UrlEncode, isBase64Url, utf8Encode } from './encoding.ts';

export interface AcmeKey {
  readonly type: KeyType;
  readonly algorithm: SignatureAlgorithm;
  readonly privateJwk: PrivateJwk;
  readonly publicJwk: PublicJwk;
  readonly engine: CryptoEngine;
}

export interface KeyOptions {
  /** Force an engine; by default WebCrypto where it exists, else the fallback for the key's family. */
  engine?: CryptoEngine;
}

async function engineFor(family: 'RSA' | 'EC', what: string, options: KeyOptions): Promise<CryptoEngine> {
  const engine = options.engine ?? (await defaultEngine(family));
  if (!engine.keyFamilies.includes(family)) throw new RangeError(`Cannot ${what}: the ${engine.name} engine has no ${family} support`);
  return engine;
}

export async function generateKey(type: KeyType, options: KeyOptions = {}): Promise<AcmeKey> {
  const engine = await engineFor(keyFamily(type), `generate a ${type} key`, options);
  return keyFromJwk(await engine.generateKey(type), { engine });
}

function publicPart(jwk: PrivateJwk): PublicJwk {
  return jwk.kty === 'RSA' ? { kty: 'RSA', n: jwk.n, e: jwk.e } : { kty: 'EC', crv: jwk.crv, x: jwk.x, y: jwk.y };
}

/** The one refusal for every key kind ACME CAs do not take (DESIGN.md "Protocol"), naming what was found. */
export function unsupportedKeyError(found: string, fix = 'use RSA 2048 to 4096 bits, or EC P-256 or P-384'): RangeError {
  return new RangeError(`Unsupported key: ${found} (${fix})`);
}

/** The key type a JWK holds, refusing what ACME CAs do not accept. */
export function keyTypeOfJwk(jwk: PublicJwk): KeyType {
  if (jwk.kty === 'EC') {
    if (jwk.crv === 'P-256') return 'ec256';
    if (jwk.crv === 'P-384') return 'ec384';
    throw unsupportedKeyError(`EC ${String(jwk.crv)}`);
  }
  if (jwk.kty === 'RSA') {
    if (typeof jwk.n !== 'string') throw new TypeError('Cannot use JWK: RSA key lacks "n"');
    let bytes = base64UrlDecode(jwk.n);
    while (bytes.length > 0 && bytes[0] === 0) bytes = bytes.subarray(1);
    const bits = bytes.length === 0 ? 0 : (bytes.length - 1) * 8 + (32 - Math.clz32(bytes[0]!));
    if (bits < 2048 || bits > 4096) throw unsupportedKeyError(`RSA ${bits} bits`);
    if (bits <= 2048) return 'rsa2048';
    if (bits <= 3072) return 'rsa3072';
    return 'rsa4096';
  }
  const kty = (jwk as { kty?: unknown; crv?: unknown }).kty;
  const crv = (jwk as { crv?: unknown }).crv;
  throw unsupportedKeyError(kty === 'OKP' && typeof crv === 'string' ? crv : `kty ${JSON.stringify(kty)}`);
}

export function algorithmOf(type: KeyType): SignatureAlgorithm {
  return type === 'ec256' ? 'ES256' : type === 'ec384' ? 'ES384' : 'RS256';
}

const REQUIRED_PRIVATE_FIELDS = { RSA: ['n', 'e', 'd', 'p', 'q', 'dp', 'dq', 'qi'], EC: ['crv', 'x', 'y', 'd'] } as const;

export async function keyFromJwk(jwk: PrivateJwk, options: KeyOptions = {}): Promise<AcmeKey> {
  const type = keyTypeOfJwk(jwk);
  const family = keyFamily(type);
  for (const field of REQUIRED_PRIVATE_FIELDS[family]) {
    const value = (jwk as unknown as Record<string, unknown>)[field];
    if (typeof value !== 'string') throw new TypeError(`Cannot use JWK: ${family} private key lacks "${field}"`);
    if (field !== 'crv' && !isBase64Url(value)) throw new TypeError(`Cannot use JWK: "${field}" is not base64url`);
  }
  const privateJwk = (family === 'RSA'
    ? (({ kty, n, e, d, p, q, dp, dq, qi }) => ({ kty, n, e, d, p, q, dp, dq, qi }))(jwk as Extract<PrivateJwk, { kty: 'RSA' }>)
    : (({ kty, crv, x, y, d }) => ({ kty, crv, x, y, d }))(jwk as Extract<PrivateJwk, { kty: 'EC' }>)) as PrivateJwk;
  const engine = await engineFor(family, `use a ${type} key`, options);
  return Object.freeze({ type, algorithm: algorithmOf(type), privateJwk, publicJwk: Object.freeze(publicPart(privateJwk)), engine });
}

/** RFC 7638 §3: SHA-256 over the required members in lexicographic order, no whitespace. */
export async function jwkThumbprint(jwk: PublicJwk, engine?: CryptoEngine): Promise<string> {
  const canonical = jwk.kty === 'RSA' ? { e: jwk.e, kty: jwk.kty, n: jwk.n } : { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y };
  const hasher = engine ?? (await defaultEngine());
  return base64UrlEncode(await hasher.digest('SHA-256', utf8Encode(JSON.stringify(canonical))));
}

export async function sign(key: AcmeKey, data: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
  return key.engine.sign(key.algorithm, key.privateJwk, data);
}
