// JWS in the flattened JSON serialization (RFC 7515 §7.2.2) as ACME uses it (RFC 8555 §6.2),
// the external account binding (§7.3.4) and the challenge key authorization (§8.1).

import type { AcmeKey } from './keys.ts';
import { jwkThumbprint, sign } from './keys.ts';
import type { CryptoEngine, HashName, HmacAlgorithm, PublicJwk } from './engine.ts';
import { defaultEngine } from './engine.ts';
import { base64UrlDecode, base64UrlEncode, utf8Encode } from './encoding.ts';

/**
 * A JWS in the flattened JSON serialization (RFC 7515 §7.2.2), the body of every signed ACME request.
 *
 * @example
 * ```ts
 * import { generateKey, signJws } from "@acmets/acme-client";
 * const jws = await signJws(await generateKey("ec256"), { termsOfServiceAgreed: true }, { url: "https://ca.example/new-account", nonce: "abc" });
 * console.log(jws.protected, jws.payload, jws.signature);
 * ```
 */
export interface FlattenedJws {
  /** The protected header, base64url JSON. */
  protected: string;
  /** The payload, base64url JSON; empty for POST-as-GET. */
  payload: string;
  /** The signature, base64url. */
  signature: string;
}

/**
 * The protected header fields ACME adds besides `alg` (RFC 8555 §6.2).
 *
 * @example
 * ```ts
 * import type { JwsHeaderFields } from "@acmets/acme-client";
 * const header: JwsHeaderFields = { url: "https://ca.example/order/1", nonce: "abc", kid: "https://ca.example/acct/1" };
 * ```
 */
export interface JwsHeaderFields {
  /** The URL the request goes to (§6.4). */
  url: string;
  /** A nonce from the CA (§6.5); absent only inside an external account binding. */
  nonce?: string;
  /** The account URL; without it the public key goes in `jwk` (RFC 8555 §6.2: newAccount, revocation by certificate key). */
  kid?: string;
}

/**
 * `payload` undefined means POST-as-GET (RFC 8555 §6.3): the payload is the empty string.
 *
 * @example
 * ```ts
 * import { generateKey, signJws } from "@acmets/acme-client";
 * const key = await generateKey("ec256");
 * const postAsGet = await signJws(key, undefined, { url: "https://ca.example/order/1", nonce: "abc", kid: "https://ca.example/acct/1" });
 * ```
 */
export async function signJws(key: AcmeKey, payload: unknown, header: JwsHeaderFields): Promise<FlattenedJws> {
  const protectedHeader: Record<string, unknown> = { alg: key.algorithm };
  if (header.kid) protectedHeader.kid = header.kid;
  else protectedHeader.jwk = key.publicJwk;
  if (header.nonce !== undefined) protectedHeader.nonce = header.nonce;
  protectedHeader.url = header.url;
  const encodedHeader = base64UrlEncode(JSON.stringify(protectedHeader));
  const encodedPayload = payload === undefined ? '' : base64UrlEncode(JSON.stringify(payload));
  const signature = await sign(key, utf8Encode(`${encodedHeader}.${encodedPayload}`));
  return { protected: encodedHeader, payload: encodedPayload, signature: base64UrlEncode(signature) };
}

const HMAC_HASH: Record<HmacAlgorithm, HashName> = { HS256: 'SHA-256', HS384: 'SHA-384', HS512: 'SHA-512' };

/**
 * The key id and MAC key a CA such as ZeroSSL or Google hands out for binding a new ACME account to an account with
 * them (RFC 8555 §7.3.4).
 *
 * @example
 * ```ts
 * import { AcmeClient, generateKey } from "@acmets/acme-client";
 * const client = await AcmeClient.create("https://acme-staging-v02.api.letsencrypt.org/directory", { accountKey: await generateKey("ec256") });
 * await client.createAccount({ termsOfServiceAgreed: true, externalAccountBinding: { kid: "kid-1", hmacKey: "c2VjcmV0LWtleS1mcm9tLXRoZS1jYQ" } });
 * ```
 */
export interface ExternalAccountBinding {
  /** The key identifier the CA gave out with the MAC key. */
  kid: string;
  /** The MAC key, base64url as CAs hand it out. */
  hmacKey: string;
  /** The MAC algorithm; HS256 unless the CA says otherwise. */
  algorithm?: HmacAlgorithm;
}

/**
 * RFC 8555 §7.3.4: the account's public JWK, MACed with the CA-issued key, with no nonce.
 *
 * @example
 * ```ts
 * import { generateKey, signExternalAccountBinding } from "@acmets/acme-client";
 * const key = await generateKey("ec256");
 * const binding = await signExternalAccountBinding({ kid: "kid-1", hmacKey: "c2VjcmV0" }, key.publicJwk, "https://ca.example/new-account");
 * ```
 */
export async function signExternalAccountBinding(binding: ExternalAccountBinding, accountJwk: PublicJwk, newAccountUrl: string): Promise<FlattenedJws> {
  const algorithm = binding.algorithm ?? 'HS256';
  if (!binding.kid) throw new TypeError('Cannot bind external account: the key identifier is empty');
  let macKey: Uint8Array;
  try {
    // Some CAs hand out the key with base64 padding; it carries no information.
    macKey = base64UrlDecode(binding.hmacKey.replace(/=+$/, ''));
  } catch {
    throw new TypeError('Cannot bind external account: the HMAC key is not base64url');
  }
  if (macKey.length === 0) throw new TypeError('Cannot bind external account: the HMAC key is empty');
  const encodedHeader = base64UrlEncode(JSON.stringify({ alg: algorithm, kid: binding.kid, url: newAccountUrl }));
  const encodedPayload = base64UrlEncode(JSON.stringify(accountJwk));
  const engine = await defaultEngine();
  const mac = await engine.hmac(HMAC_HASH[algorithm], macKey, utf8Encode(`${encodedHeader}.${encodedPayload}`));
  return { protected: encodedHeader, payload: encodedPayload, signature: base64UrlEncode(mac) };
}

/**
 * RFC 8555 §8.1: token "." base64url(thumbprint of the account key).
 *
 * @example
 * ```ts
 * import { generateKey, keyAuthorization } from "@acmets/acme-client";
 * const accountKey = await generateKey("ec256");
 * const text = await keyAuthorization("evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA", accountKey); // what http-01 serves
 * ```
 */
export async function keyAuthorization(token: string, accountKey: { publicJwk: PublicJwk; engine?: CryptoEngine }): Promise<string> {
  // Only the public key's thumbprint: a signer in another process answers challenges without being asked.
  return `${token}.${await jwkThumbprint(accountKey.publicJwk, accountKey.engine)}`;
}

/**
 * RFC 8555 §8.4: the TXT record value is base64url(SHA-256(key authorization)).
 *
 * @example
 * ```ts
 * import { dns01TxtValue } from "@acmets/acme-client";
 * const value = await dns01TxtValue("token.thumbprint"); // the TXT record at _acme-challenge.NAME
 * ```
 */
export async function dns01TxtValue(keyAuth: string): Promise<string> {
  const engine = await defaultEngine();
  return base64UrlEncode(await engine.digest('SHA-256', utf8Encode(keyAuth)));
}
