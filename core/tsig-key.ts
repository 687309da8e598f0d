// TSIG keys (RFC 8945) as BIND's tsig-keygen and ddns-confgen write them, for signed RFC 2136 updates. No DNS code
// here: the CLI reads the key file before any request, and the message code loads only when updates are sent.

import { base64Decode } from './encoding.ts';

/**
 * A TSIG algorithm this client signs with (RFC 8945 §6): HMAC-SHA256, which BIND's tsig-keygen makes by default, or HMAC-SHA512.
 *
 * @example
 * ```ts
 * import type { TsigAlgorithm } from "@acmets/acme-client/deno";
 * const algorithm: TsigAlgorithm = "hmac-sha256";
 * ```
 */
export type TsigAlgorithm = 'hmac-sha256' | 'hmac-sha512';

/** RFC 8945 §6: each algorithm by the name BIND's key files and the TSIG record give it, and its WebCrypto hash. */
export const TSIG_HASHES: Record<TsigAlgorithm, string> = { 'hmac-sha256': 'SHA-256', 'hmac-sha512': 'SHA-512' };

/**
 * A TSIG key (RFC 8945 §2), as parseTsigKey reads it from BIND's key file.
 *
 * @example
 * ```ts
 * import type { TsigKey } from "@acmets/acme-client/deno";
 * const key: TsigKey = { name: "acme", algorithm: "hmac-sha256", secret: new Uint8Array(32) };
 * ```
 */
export interface TsigKey {
  /** The key's name, which the server's update-policy grants to: lowercase, without a trailing dot. */
  name: string;
  /** The HMAC it signs with. */
  algorithm: TsigAlgorithm;
  /** The shared secret, decoded from the file's base64. */
  secret: Uint8Array;
}

/**
 * The one key in a file as BIND's tsig-keygen and ddns-confgen write it and `nsupdate -k` reads it:
 * `key "NAME" { algorithm hmac-sha256; secret "BASE64"; };`, with #, // and C comments allowed around it.
 * A malformed file throws SyntaxError; another algorithm, or more than one key, RangeError.
 *
 * @example
 * ```ts
 * import { parseTsigKey } from "@acmets/acme-client/deno";
 * // What `tsig-keygen -a hmac-sha256 acme` prints:
 * const key = parseTsigKey('key "acme" {\n\talgorithm hmac-sha256;\n\tsecret "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0";\n};\n');
 * console.log(key.name, key.algorithm); // "acme" "hmac-sha256"
 * ```
 */
export function parseTsigKey(text: string): TsigKey {
  // Comments go, but not inside quotes: a base64 secret may well hold "//".
  const plain = text.replace(/"[^"]*"|\/\*[\s\S]*?\*\/|(?:#|\/\/)[^\n]*/g, (token) => (token.startsWith('"') ? token : ' '));
  const blocks = [...plain.matchAll(/\bkey\s+(?:"([^"]+)"|([A-Za-z0-9._-]+))\s*\{([^{}]*)\}\s*;/g)];
  if (blocks.length === 0) throw new SyntaxError('no key "NAME" { algorithm hmac-sha256; secret "BASE64"; }; block, as tsig-keygen writes it');
  if (blocks.length > 1) throw new RangeError(`it holds ${blocks.length} keys; give a file with one`);
  const [, quotedName, bareName, body] = blocks[0]!;
  const name = (quotedName ?? bareName)!.toLowerCase().replace(/\.$/, '');
  const algorithm = /\balgorithm\s+"?([A-Za-z0-9.-]+)"?\s*;/.exec(body!)?.[1]?.toLowerCase().replace(/\.$/, '');
  if (algorithm === undefined) throw new SyntaxError(`key "${name}" has no "algorithm NAME;" line`);
  if (!(algorithm in TSIG_HASHES)) throw new RangeError(`key "${name}" uses ${algorithm}; use ${Object.keys(TSIG_HASHES).join(' or ')} (RFC 8945)`);
  const secretText = /\bsecret\s+"([^"]*)"\s*;/.exec(body!)?.[1];
  if (secretText === undefined) throw new SyntaxError(`key "${name}" has no secret "BASE64"; line`);
  let secret: Uint8Array;
  try {
    if (!/^[A-Za-z0-9+/\s]*={0,2}\s*$/.test(secretText)) throw new SyntaxError('not base64');
    secret = base64Decode(secretText);
  } catch {
    throw new SyntaxError(`the secret of key "${name}" is not base64`);
  }
  if (secret.length === 0) throw new SyntaxError(`the secret of key "${name}" is empty`);
  return { name, algorithm: algorithm as TsigAlgorithm, secret };
}
