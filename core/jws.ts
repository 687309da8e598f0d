// JWS in the flattened JSON serialization (RFC 7515 §7.2.2) as ACME uses it (RFC 8555 §6.2),
// the external account binding (§7.3.4) and the challenge key authorization (§8.1).

import type { AcmeKey } from './keys.ts';
import { jwkThumbprint, sign } from './keys.ts';
import type { HashName, HmacAlgorithm, PublicJwk } from './engine.ts';
import { defaultEngine } from './engine.ts';
import { base64UrlDecode, base64UrlEncode, utf8Encode } from './encoding.ts';

export interface FlattenedJws {
  protected: string;
  payload: string;
  signature: string;
}

export interface JwsHeaderFields {
  url: string;
  nonce?: string;
  /** The account URL; without it the public key goes in `jwk` (RFC 8555 §6.2: newAccount, revocation by certificate key). */
  kid?: string;
}

/** `payload` undefined means POST-as-GET (RFC 8555 §6.3): the payload is the empty string. */
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

export interface ExternalAccountBinding {
  /** The key identifier the CA gave out with the MAC key. */
  kid: string;
  /** The MAC key, base64url as CAs hand it out. */
  hmacKey: string;
  algorithm?: HmacAlgorithm;
}

/** RFC 8555 §7.3.4: the account's public JWK, MACed with the CA-issued key, with no nonce. */
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

/** RFC 8555 §8.1: token "." base64url(thumbprint of the account key). */
export async function keyAuthorization(token: string, accountKey: AcmeKey): Promise<string> {
  return `${token}.${await jwkThumbprint(accountKey.publicJwk, accountKey.engine)}`;
}

/** RFC 8555 §8.4: the TXT record value is base64url(SHA-256(key authorization)). */
export async function dns01TxtValue(keyAuth: string): Promise<string> {
  const engine = await defaultEngine();
  return base64UrlEncode(await engine.digest('SHA-256', utf8Encode(keyAuth)));
}
