// Account and certificate keys: generation, the JWK forms, and the RFC 7638 thumbprint.
// A key is its private JWK plus the engine that signs with it; PEM import and export live in key-pem.ts.

import type { CryptoEngine, KeyType, PrivateJwk, PublicJwk, SignatureAlgorithm } from './engine.ts';
import { defaultEngine, keyFamily } from './engine.ts';
import { base64UrlDecode, base64UrlEncode, isBase64Url, utf8Encode, withoutLeadingZeros } from './encoding.ts';

/**
 * An account or certificate key: its private JWK, the algorithm it signs with, and the engine that signs. Frozen.
 *
 * @example
 * ```ts
 * import { generateKey } from "@acmets/acme-client";
 * const key = await generateKey("ec256");
 * console.log(key.type, key.algorithm, key.engine.name); // "ec256" "ES256" "webcrypto"
 * ```
 */
export interface AcmeKey {
  /** The key type, as the CLI's --key-type names it. */
  readonly type: KeyType;
  /** The JWS algorithm: RS256, ES256 or ES384. */
  readonly algorithm: SignatureAlgorithm;
  /** The private key; never logged or sent. */
  readonly privateJwk: PrivateJwk;
  /** The public key, for JWS headers, thumbprints and CSRs. */
  readonly publicJwk: PublicJwk;
  /** The engine that signs with this key. */
  readonly engine: CryptoEngine;
}

/**
 * Options for making or loading a key.
 *
 * @example
 * ```ts
 * import { generateKey, loadEngine } from "@acmets/acme-client";
 * const key = await generateKey("ec256", { engine: await loadEngine("noble") });
 * ```
 */
export interface KeyOptions {
  /** Force an engine; by default WebCrypto where it exists, else the fallback for the key's family. */
  engine?: CryptoEngine;
}

async function engineFor(family: 'RSA' | 'EC', what: string, options: KeyOptions): Promise<CryptoEngine> {
  const engine = options.engine ?? (await defaultEngine(family));
  if (!engine.keyFamilies.includes(family)) throw new RangeError(`Cannot ${what}: the ${engine.name} engine has no ${family} support`);
  return engine;
}

/**
 * A new key of `type`, made by WebCrypto where it exists (else by the fallback engine for its family).
 *
 * @example
 * ```ts
 * import { generateKey } from "@acmets/acme-client";
 * const accountKey = await generateKey("ec256");
 * const certificateKey = await generateKey("rsa2048");
 * ```
 */
export async function generateKey(type: KeyType, options: KeyOptions = {}): Promise<AcmeKey> {
  const engine = await engineFor(keyFamily(type), `generate a ${type} key`, options);
  return keyFromJwk(await engine.generateKey(type), { engine });
}

function publicPart(jwk: PrivateJwk): PublicJwk {
  return jwk.kty === 'RSA' ? { kty: 'RSA', n: jwk.n, e: jwk.e } : { kty: 'EC', crv: jwk.crv, x: jwk.x, y: jwk.y };
}

/**
 * The one refusal for every key kind ACME CAs do not take (DESIGN.md "Protocol"), naming what was found.
 *
 * @example
 * ```ts
 * import { unsupportedKeyError } from "@acmets/acme-client";
 * console.log(unsupportedKeyError("Ed25519").message);
 * // "Unsupported key: Ed25519 (use RSA 2048 to 4096 bits, or EC P-256 or P-384)"
 * ```
 */
export function unsupportedKeyError(found: string, fix = 'use RSA 2048 to 4096 bits, or EC P-256 or P-384'): RangeError {
  return new RangeError(`Unsupported key: ${found} (${fix})`);
}

/**
 * The key type a JWK holds, refusing what ACME CAs do not accept.
 *
 * @example
 * ```ts
 * import { keyTypeOfJwk } from "@acmets/acme-client";
 * console.log(keyTypeOfJwk({ kty: "EC", crv: "P-384", x: "…", y: "…" })); // "ec384"
 * ```
 */
export function keyTypeOfJwk(jwk: PublicJwk): KeyType {
  if (jwk.kty === 'EC') {
    if (jwk.crv === 'P-256') return 'ec256';
    if (jwk.crv === 'P-384') return 'ec384';
    throw unsupportedKeyError(`EC ${String(jwk.crv)}`);
  }
  if (jwk.kty === 'RSA') {
    if (typeof jwk.n !== 'string') throw new TypeError('Cannot use JWK: RSA key lacks "n"');
    const bytes = withoutLeadingZeros(base64UrlDecode(jwk.n));
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

/**
 * The JWS algorithm a key type signs with (RFC 7518 §3.1): RS256 for RSA, ES256 for P-256, ES384 for P-384.
 *
 * @example
 * ```ts
 * import { algorithmOf } from "@acmets/acme-client";
 * console.log(algorithmOf("rsa4096")); // "RS256"
 * ```
 */
export function algorithmOf(type: KeyType): SignatureAlgorithm {
  return type === 'ec256' ? 'ES256' : type === 'ec384' ? 'ES384' : 'RS256';
}

const REQUIRED_PRIVATE_FIELDS = { RSA: ['n', 'e', 'd', 'p', 'q', 'dp', 'dq', 'qi'], EC: ['crv', 'x', 'y', 'd'] } as const;

/**
 * A key from a private JWK, checked: the members its type needs must be there and base64url, and the type one ACME CAs
 * accept.
 *
 * @example
 * ```ts
 * import { generateKey, keyFromJwk } from "@acmets/acme-client";
 * const saved = JSON.stringify((await generateKey("ec256")).privateJwk);
 * const key = await keyFromJwk(JSON.parse(saved));
 * ```
 */
export async function keyFromJwk(jwk: PrivateJwk, options: KeyOptions = {}): Promise<AcmeKey> {
  const type = keyTypeOfJwk(jwk);
  const family = keyFamily(type);
  // Only the members the type needs are kept, so extra ones (kid, alg, key_ops) never reach an engine.
  const members: Record<string, string> = { kty: family };
  for (const field of REQUIRED_PRIVATE_FIELDS[family]) {
    const value = (jwk as unknown as Record<string, unknown>)[field];
    if (typeof value !== 'string') throw new TypeError(`Cannot use JWK: ${family} private key lacks "${field}"`);
    if (field !== 'crv' && !isBase64Url(value)) throw new TypeError(`Cannot use JWK: "${field}" is not base64url`);
    members[field] = value;
  }
  const privateJwk = members as unknown as PrivateJwk;
  const engine = await engineFor(family, `use a ${type} key`, options);
  return Object.freeze({ type, algorithm: algorithmOf(type), privateJwk, publicJwk: Object.freeze(publicPart(privateJwk)), engine });
}

/**
 * RFC 7638 §3: SHA-256 over the required members in lexicographic order, no whitespace.
 *
 * @example
 * ```ts
 * import { generateKey, jwkThumbprint } from "@acmets/acme-client";
 * const key = await generateKey("ec256");
 * console.log(await jwkThumbprint(key.publicJwk)); // 43 base64url characters
 * ```
 */
export async function jwkThumbprint(jwk: PublicJwk, engine?: CryptoEngine): Promise<string> {
  const canonical = jwk.kty === 'RSA' ? { e: jwk.e, kty: jwk.kty, n: jwk.n } : { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y };
  const hasher = engine ?? (await defaultEngine());
  return base64UrlEncode(await hasher.digest('SHA-256', utf8Encode(JSON.stringify(canonical))));
}

/**
 * The key's signature over `data`: RSASSA-PKCS1-v1_5 for RSA, r||s for ECDSA (RFC 7518 §3.4).
 *
 * @example
 * ```ts
 * import { generateKey, sign } from "@acmets/acme-client";
 * const key = await generateKey("ec256");
 * const signature = await sign(key, new TextEncoder().encode("payload")); // 64 bytes
 * ```
 */
export async function sign(key: AcmeKey, data: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
  return key.engine.sign(key.algorithm, key.privateJwk, data);
}
